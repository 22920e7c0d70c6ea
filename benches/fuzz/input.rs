//! Random inputs: a small deterministic generator (so a seed replays the same
//! inputs on every platform and `rand` version), purely random bytes and
//! strings, and mutations of valid seeds.

/// SplitMix64: tiny, fast, good enough to drive a fuzzer.
pub struct Gen {
    state: u64,
}

/// Strings that often break parsers: separators, whitespace that `trim`
/// removes or keeps, full-width forms, NUL, BOM, surrogate-adjacent and
/// multi-byte characters, numbers at the edges.
const INTERESTING: &[&str] = &[
    "",
    "\0",
    " ",
    "\t",
    "\r\n",
    "\n",
    "\u{feff}",
    "\u{3000}",
    "\u{a0}",
    "\u{200b}",
    "-",
    "--",
    ".",
    "..",
    "/",
    "//",
    ",",
    ";",
    "；",
    "、",
    "，",
    "\"",
    "'",
    "(",
    ")",
    "（",
    "）",
    "*",
    "_",
    "＿",
    "年",
    "月",
    "日",
    "T",
    ":",
    "x",
    "X",
    "O",
    "I",
    "ß",
    "İ",
    "ﬀ",
    "１",
    "９",
    "Ａ",
    "é",
    "e\u{301}",
    "😀",
    "\u{10ffff}",
    "\u{fffd}",
    "\u{202e}",
    "%",
    "%00",
    "0",
    "00",
    "9",
    "99999999999999999999",
    "-9223372036854775808",
    "9223372036854775807",
    "18446744073709551616",
    "1e9",
    "NaN",
    "0x10",
    "2024-02-29",
    "2023-02-29",
    "0000-01-01",
    "9999-12-31",
    "+10000-01-01",
    "262143-12-31",
    "-0001-01-01",
    "1949-12-31",
    "2024/3/5",
    "2024年3月5日",
    "2024-03-05 00:00:00",
    "penaltyDecisions/",
    "disclosures/",
    "repairApplications/",
    "/noticeBundle",
    "gsk_",
    "法人及非法人组织",
    "个体工商户",
    "自然人",
    "罚款",
    "警告",
    "身份证",
    "简易程序",
    "普通程序",
    "食品",
    "严重",
    "万元",
];

impl Gen {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Gen { state: seed }
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A length: mostly short, sometimes long, rarely very long (up to 70 KB).
    pub fn len(&mut self) -> usize {
        match self.below(1000) {
            0..=49 => 0,
            50..=699 => self.below(32),
            700..=979 => self.below(512),
            980..=997 => self.below(8192),
            _ => 8192 + self.below(64 * 1024),
        }
    }

    /// Purely random bytes.
    pub fn random_bytes(&mut self) -> Vec<u8> {
        let n = self.len();
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// A random character: ASCII mostly, then CJK, control, anything.
    pub fn char(&mut self) -> char {
        let c = match self.below(10) {
            0..=4 => u32::from(self.below(95) as u8 + 32),
            5 => self.below(32) as u32,
            6 => 0x4e00 + self.below(0x5000) as u32,
            7 => 0x80 + self.below(0x780) as u32,
            8 => self.below(0x11_0000) as u32,
            _ => u32::from(*self.pick(b"0123456789ABCDEFGHJKLMNPQRTUWXYX-")),
        };
        char::from_u32(c).unwrap_or('\u{fffd}')
    }

    /// A purely random string (valid UTF-8), with interesting pieces mixed in.
    pub fn random_string(&mut self) -> String {
        let n = self.len();
        let mut s = String::with_capacity(n);
        for _ in 0..n {
            if self.chance(10) {
                let piece = self.pick(INTERESTING);
                s.push_str(piece);
            } else {
                s.push(self.char());
            }
        }
        s
    }

    /// A mutation of `seed`: one to four of flip, set, insert, delete,
    /// truncate, duplicate, splice with `others`, insert an interesting string.
    pub fn mutate(&mut self, seed: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
        let mut b = seed.to_vec();
        let rounds = 1 + self.below(4);
        for _ in 0..rounds {
            let len = b.len();
            match self.below(9) {
                0 if len > 0 => {
                    let i = self.below(len);
                    b[i] ^= 1 << self.below(8);
                }
                1 if len > 0 => {
                    let i = self.below(len);
                    let any = self.next() as u8;
                    b[i] = *self.pick(&[0u8, 0x7f, 0x80, 0xff, b'-', b' ', b'0', b'9', b'X', any]);
                }
                2 => {
                    let i = self.below(len + 1);
                    let n = 1 + self.below(4);
                    for _ in 0..n {
                        let v = self.next() as u8;
                        b.insert(i, v);
                    }
                }
                3 if len > 0 => {
                    let i = self.below(len);
                    let n = 1 + self.below((len - i).min(8));
                    b.drain(i..i + n);
                }
                4 => b.truncate(self.below(len + 1)),
                5 if len > 0 => {
                    let i = self.below(len);
                    let n = 1 + self.below((len - i).min(64));
                    let piece = b[i..i + n].to_vec();
                    let at = self.below(len + 1);
                    let times = if self.chance(5) { 200 } else { 1 };
                    for _ in 0..times {
                        b.splice(at..at, piece.iter().copied());
                    }
                }
                6 if !others.is_empty() => {
                    let other = self.pick(others).clone();
                    let cut = self.below(len + 1);
                    let from = self.below(other.len() + 1);
                    b.truncate(cut);
                    b.extend_from_slice(&other[from..]);
                }
                7 => {
                    let s = self.pick(INTERESTING).as_bytes().to_vec();
                    let i = self.below(len + 1);
                    b.splice(i..i, s);
                }
                _ if len > 0 => {
                    // Change the case of one byte (parsers that upper-case).
                    let i = self.below(len);
                    b[i] = if b[i].is_ascii_lowercase() {
                        b[i].to_ascii_uppercase()
                    } else {
                        b[i].to_ascii_lowercase()
                    };
                }
                _ => b.push(self.next() as u8),
            }
        }
        b
    }

    /// Bytes: random (30 %), or a mutation of one of `seeds` (70 %; 5 % of
    /// them unmutated).
    pub fn bytes(&mut self, seeds: &[Vec<u8>]) -> Vec<u8> {
        if seeds.is_empty() || self.chance(30) {
            return self.random_bytes();
        }
        let seed = self.pick(seeds).clone();
        if self.chance(5) {
            return seed;
        }
        self.mutate(&seed, seeds)
    }

    /// A string: random (30 %), or a mutated seed made valid UTF-8 again
    /// (invalid sequences become U+FFFD).
    pub fn string(&mut self, seeds: &[Vec<u8>]) -> String {
        if seeds.is_empty() || self.chance(30) {
            return self.random_string();
        }
        let b = self.bytes(seeds);
        String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// An integer near the edges or anywhere.
    pub fn int(&mut self) -> i64 {
        match self.below(8) {
            0 => 0,
            1 => *self.pick(&[1, -1, 2, 50, 999, 1000, 1001, 65_536]),
            2 => *self.pick(&[i64::MIN, i64::MAX, i64::MIN + 1, i64::MAX - 1]),
            3 => i64::from(*self.pick(&[i32::MIN, i32::MAX, u16::MAX as i32])),
            4 => self.below(100) as i64 - 50,
            5 => (self.next() as i32) as i64,
            _ => self.next() as i64,
        }
    }
}

/// Seeds as byte strings.
pub fn seeds<S: AsRef<[u8]>>(items: impl IntoIterator<Item = S>) -> Vec<Vec<u8>> {
    items.into_iter().map(|s| s.as_ref().to_vec()).collect()
}

/// A string for the report: escaped (`\n`, `\u{3000}`), cut at 2,000 characters.
pub fn show_str(s: &str) -> String {
    let chars = s.chars().count();
    let cut: String = s.chars().take(2000).collect();
    let mut out = format!("\"{}\"", cut.escape_default());
    if chars > 2000 {
        out.push_str(&format!(" … ({chars} characters in all)"));
    }
    out
}

/// Bytes for the report: hex, cut at 4 KB.
pub fn show_bytes(b: &[u8]) -> String {
    let mut out = format!("hex {}", hex::encode(&b[..b.len().min(4096)]));
    if b.len() > 4096 {
        out.push_str(&format!(" … ({} bytes in all)", b.len()));
    }
    out
}
