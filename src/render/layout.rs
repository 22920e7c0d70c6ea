//! Page layout after GB/T 9704-2012 《党政机关公文格式》: A4, 天头 37 mm,
//! 订口 28 mm, 版心 156 × 225 mm holding 22 lines of 28 characters at 3号
//! (16 pt); the authority's mark in red, a red rule under the document
//! number, the title centred in a heavy face, two-character paragraph
//! indents, the authority and date at the end with room for the seal, and
//! `— N —` page numbers in 4号 under the 版心, on the outside edge.
//!
//! Pure geometry: text in, positioned glyphs out (points, origin at the top
//! left of the page, y downwards). Every number is computed from the text
//! and the built-in fonts alone, so the same text always gives the same
//! pages.

use std::ops::Range;

use super::RenderError;
use super::fonts::{Face, Faces};

/// Points per millimetre.
pub(crate) const MM: f32 = 72.0 / 25.4;
/// A4 width.
pub(crate) const PAGE_W: f32 = 210.0 * MM;
/// A4 height.
pub(crate) const PAGE_H: f32 = 297.0 * MM;
/// 天头: from the top edge to the 版心.
pub(crate) const TOP: f32 = 37.0 * MM;
/// 订口: from the left (binding) edge to the 版心.
pub(crate) const LEFT: f32 = 28.0 * MM;
/// 版心 width.
pub(crate) const BODY_W: f32 = 156.0 * MM;
/// 版心 height.
pub(crate) const BODY_H: f32 = 225.0 * MM;
/// Lines per page.
pub(crate) const LINES: usize = 22;
/// Characters per line.
pub(crate) const CHARS: usize = 28;
/// One character cell: 28 fill the 版心's width exactly.
pub(crate) const CELL: f32 = BODY_W / CHARS as f32;
/// Line pitch: 22 lines fill the 版心's height exactly.
pub(crate) const PITCH: f32 = BODY_H / LINES as f32;
/// 3号: body text.
pub(crate) const BODY_PT: f32 = 16.0;
/// 2号: the title.
const TITLE_PT: f32 = 22.0;
/// 4号: page numbers.
const FOLIO_PT: f32 = 14.0;
/// The authority's mark at most this size; smaller when the name is long.
const MARK_MAX_PT: f32 = 42.0;
/// 发文机关标志: its top 35 mm below the 版心's top (GB/T 9704 7.2.1).
const MARK_TOP: f32 = 35.0 * MM;
/// The red rule: 4 mm under the document number (7.2.5), this thick.
const RULE_GAP: f32 = 4.0 * MM;
/// Thickness of the red rule.
const RULE_H: f32 = 1.0;
/// The page number's dash line 7 mm under the 版心 (7.5.1).
const FOLIO_GAP: f32 = 7.0 * MM;
/// Top of the ideographic em box above the baseline, in ems (CJK fonts put
/// the baseline 0.12 em above the box's bottom).
const EM_TOP: f32 = 0.88;
/// Blank lines left above the authority's signature for the seal, which is
/// pressed over the signature and date and reaches up towards the text.
const SEAL_LINES: usize = 3;
/// The date ends four characters from the right edge (7.3.5.1).
const DATE_RIGHT_CELLS: f32 = 4.0;

/// Characters that may not begin a line (避头点号).
const NO_START: &str = "，。、；：？！）》」』】〕〉”’…—·％‰,.;:?!)]}%";
/// Characters that may not end a line (避尾).
const NO_END: &str = "（《「『【〔〈“‘([{";

/// Colour of ink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ink {
    /// Text.
    Black,
    /// The authority's mark and the rule.
    Red,
}

/// One glyph of a run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Glyph {
    /// Glyph id in the run's face.
    pub(crate) gid: u32,
    /// The bytes of the run's text it stands for.
    pub(crate) range: Range<usize>,
    /// Advance to the next glyph, in points.
    pub(crate) advance: f32,
}

/// Glyphs of one face on one baseline.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Run {
    /// Left edge of the first glyph.
    pub(crate) x: f32,
    /// Baseline.
    pub(crate) baseline: f32,
    /// Font size in points.
    pub(crate) size: f32,
    /// Face.
    pub(crate) face: Face,
    /// Ink.
    pub(crate) ink: Ink,
    /// The characters drawn (for the text layer).
    pub(crate) text: String,
    /// The glyphs.
    pub(crate) glyphs: Vec<Glyph>,
}

/// Something drawn on a page.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    /// Text.
    Text(Run),
    /// The red rule (a filled rectangle).
    Rule {
        /// Left.
        x: f32,
        /// Top.
        y: f32,
        /// Width.
        w: f32,
        /// Height.
        h: f32,
    },
}

/// One page.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Page {
    /// What is drawn, in reading order.
    pub(crate) items: Vec<Item>,
}

/// The parts a document's text is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// 发文机关标志: red, heavy, centred.
    Mark,
    /// Title: 2号, heavy, centred.
    Title,
    /// 发文字号: body size, centred.
    Number,
    /// A paragraph of the body.
    Body,
    /// A first-level heading (一、…): heavy face, body size.
    Heading,
    /// The page number.
    Folio,
}

impl Style {
    fn face(self) -> Face {
        match self {
            Style::Mark | Style::Title | Style::Heading => Face::HeiBold,
            Style::Number | Style::Body | Style::Folio => Face::Fang,
        }
    }
}

/// A character with the face, glyph and advance it is set with.
#[derive(Debug, Clone, Copy)]
struct Shaped {
    ch: char,
    face: Face,
    /// `None`: nothing is drawn (a space the face lacks, an invisible
    /// formatting character); the advance still applies.
    gid: Option<u32>,
    advance: f32,
}

/// Invisible formatting characters: nothing to draw, nothing to lose.
fn invisible(ch: char) -> bool {
    matches!(ch, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\r')
}

/// Sets `text` in a style. Body-size text is set on the character grid (a
/// full-width character takes exactly one cell); other sizes on their own
/// advances.
fn shape(faces: &Faces, text: &str, style: Style, size: f32) -> Result<Vec<Shaped>, RenderError> {
    let unit = if size == BODY_PT { CELL } else { size };
    text.chars()
        .map(|ch| {
            if invisible(ch) {
                return Ok(Shaped {
                    ch,
                    face: style.face(),
                    gid: None,
                    advance: 0.0,
                });
            }
            match faces.pick(style.face(), ch) {
                Some((face, gid)) => Ok(Shaped {
                    ch,
                    face,
                    gid: Some(gid),
                    advance: faces.get(face).advance_em(gid) * unit,
                }),
                None if ch.is_whitespace() => Ok(Shaped {
                    ch,
                    face: style.face(),
                    gid: None,
                    advance: if ch == '\u{3000}' { unit } else { unit / 2.0 },
                }),
                None => Err(RenderError::Unprintable(ch)),
            }
        })
        .collect()
}

fn width(chars: &[Shaped]) -> f32 {
    chars.iter().map(|c| c.advance).sum()
}

/// Whether a line may break between `a` and `b`: not inside a run of Latin
/// letters and digits (a number such as 20,000.00 stays whole), not before
/// a closing mark, not after an opening one.
fn may_break(a: char, b: char) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || ".,-_/%@&'".contains(c);
    let inside_word = word(a) && word(b);
    !(inside_word || NO_START.contains(b) || NO_END.contains(a))
}

/// Breaks a paragraph into lines: the first `first` wide, the rest `rest`.
/// Greedy, backing off to the last allowed break; a line with no allowed
/// break is cut where it is full. Never drops or reorders a character.
fn break_lines(chars: &[Shaped], first: f32, rest: f32) -> Vec<Range<usize>> {
    const EPS: f32 = 0.01;
    let mut lines = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let avail = if lines.is_empty() { first } else { rest };
        let mut used = 0.0;
        let mut end = start;
        while end < chars.len() && used + chars[end].advance <= avail + EPS {
            used += chars[end].advance;
            end += 1;
        }
        if end == chars.len() {
            lines.push(start..end);
            break;
        }
        if end == start {
            end = start + 1; // a character wider than the line: alone on it
        } else if let Some(b) = (start + 1..=end)
            .rev()
            .find(|&b| may_break(chars[b - 1].ch, chars[b].ch))
        {
            end = b;
        }
        lines.push(start..end);
        start = end;
    }
    lines
}

/// Glyph runs of one line of shaped characters from `x` on `baseline`.
fn runs(chars: &[Shaped], x: f32, baseline: f32, size: f32, ink: Ink) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    let mut pen = x;
    let mut open = false;
    for c in chars {
        if let Some(gid) = c.gid {
            let run = match out.last_mut() {
                Some(r) if open && r.face == c.face => r,
                _ => {
                    out.push(Run {
                        x: pen,
                        baseline,
                        size,
                        face: c.face,
                        ink,
                        text: String::new(),
                        glyphs: Vec::new(),
                    });
                    open = true;
                    let last = out.len() - 1;
                    &mut out[last]
                }
            };
            let from = run.text.len();
            run.text.push(c.ch);
            run.glyphs.push(Glyph {
                gid,
                range: from..run.text.len(),
                advance: c.advance,
            });
        } else {
            open = false;
        }
        pen += c.advance;
    }
    out
}

/// Baseline of a text line whose em box starts at `top`.
fn baseline_at(top: f32, size: f32) -> f32 {
    top + EM_TOP * size
}

/// Baseline of grid line `slot` (0..22) of the 版心, the em box centred in
/// the line's pitch.
fn slot_baseline(slot: usize) -> f32 {
    baseline_at(TOP + slot as f32 * PITCH + (PITCH - BODY_PT) / 2.0, BODY_PT)
}

/// A line of the body placed on the grid.
#[derive(Debug, Clone)]
struct BodyLine {
    chars: Vec<Shaped>,
    x: f32,
}

/// The body as a flow of lines; the signature is kept on one page.
#[derive(Debug, Clone)]
enum Block {
    Lines(Vec<BodyLine>),
    /// The authority's signature and the date, with room for the seal above.
    Signature(Vec<BodyLine>),
}

fn is_date_line(s: &str) -> bool {
    // 2026年12月5日: as `domain::notice::date_zh` writes it.
    let t = s.trim();
    let Some(rest) = t.strip_suffix('日') else {
        return false;
    };
    let parts: Vec<&str> = rest.split(['年', '月']).collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn is_heading(s: &str) -> bool {
    let t = s.trim();
    let numeral = t.chars().take_while(|c| "一二三四五六七八九十".contains(*c)).count();
    numeral > 0
        && t.chars().nth(numeral) == Some('、')
        && !t.contains(['：', '。', '；', '，'])
        && t.chars().count() <= CHARS
}

/// What a document is laid out from.
pub(crate) struct Source<'a> {
    /// The document's text, exactly as stored (`NoticeDocument.body`).
    pub(crate) body: &'a str,
    /// The deciding authority: a first line equal to it is the red mark,
    /// a last-but-one line equal to it the signature.
    pub(crate) authority: &'a str,
    /// The title: the line equal to it is set as the title.
    pub(crate) title: &'a str,
    /// The document number: the first line after the title containing it
    /// is the 发文字号.
    pub(crate) number: &'a str,
}

/// Lays a document out into pages.
pub(crate) fn layout(faces: &Faces, src: &Source<'_>) -> Result<Vec<Page>, RenderError> {
    let lines: Vec<&str> = src.body.lines().map(str::trim_end).collect();
    let mut i = 0;
    let skip_blank = |i: &mut usize| {
        while *i < lines.len() && lines[*i].trim().is_empty() {
            *i += 1;
        }
    };

    // 版头: mark, title, number, rule — in the order the text has them.
    let mut first = Page::default();
    let mut y = TOP;
    skip_blank(&mut i);
    let mut has_mark = false;
    if i < lines.len() && !src.authority.trim().is_empty() && lines[i].trim() == src.authority.trim() {
        let chars = shape(faces, lines[i].trim(), Style::Mark, 1.0)?;
        let size = (BODY_W * 0.96 / width(&chars).max(0.01)).min(MARK_MAX_PT);
        let chars = shape(faces, lines[i].trim(), Style::Mark, size)?;
        let top = TOP + MARK_TOP;
        centred(&mut first, &chars, baseline_at(top, size), size, Ink::Red, BODY_W);
        y = top + size + 2.0 * PITCH; // 空二行
        has_mark = true;
        i += 1;
        skip_blank(&mut i);
    }
    let mut has_title = false;
    if i < lines.len() && lines[i].trim() == src.title.trim() && !src.title.trim().is_empty() {
        let chars = shape(faces, lines[i].trim(), Style::Title, TITLE_PT)?;
        centred_lines(&mut first, &chars, &mut y, TITLE_PT, TITLE_PT * 1.5);
        has_title = true;
        i += 1;
        skip_blank(&mut i);
    }
    if has_title && i < lines.len() && !src.number.trim().is_empty() && lines[i].contains(src.number.trim()) {
        y += PITCH / 2.0 - TITLE_PT / 2.0;
        let chars = shape(faces, lines[i].trim(), Style::Number, BODY_PT)?;
        centred_lines(&mut first, &chars, &mut y, BODY_PT, PITCH);
        y -= PITCH - BODY_PT;
        i += 1;
        if has_mark {
            y += RULE_GAP;
            first.items.push(Item::Rule {
                x: LEFT,
                y,
                w: BODY_W,
                h: RULE_H,
            });
            y += RULE_H;
        }
    }
    // The body starts on the first grid line below the head, half a line clear.
    let head_slots = if y > TOP {
        (((y - TOP) + PITCH / 2.0) / PITCH).ceil() as usize
    } else {
        0
    };

    // 主体: paragraphs, headings, the signature.
    let rest: Vec<&str> = lines[i..].iter().copied().filter(|l| !l.trim().is_empty()).collect();
    let mut blocks = Vec::new();
    let n = rest.len();
    let signature = n >= 2
        && !src.authority.trim().is_empty()
        && rest[n - 2].trim() == src.authority.trim()
        && is_date_line(rest[n - 1]);
    let paragraphs = if signature { &rest[..n - 2] } else { &rest[..] };
    for (k, p) in paragraphs.iter().enumerate() {
        let salutation = k == 0 && (p.ends_with('：') || p.ends_with(':'));
        let style = if is_heading(p) { Style::Heading } else { Style::Body };
        let chars = shape(faces, p, style, BODY_PT)?;
        let indent = if salutation { 0.0 } else { 2.0 * CELL };
        let lines = break_lines(&chars, BODY_W - indent, BODY_W)
            .into_iter()
            .enumerate()
            .map(|(j, r)| BodyLine {
                chars: chars[r].to_vec(),
                x: LEFT + if j == 0 { indent } else { 0.0 },
            })
            .collect();
        blocks.push(Block::Lines(lines));
    }
    if signature {
        let authority = shape(faces, rest[n - 2].trim(), Style::Body, BODY_PT)?;
        let date = shape(faces, rest[n - 1].trim(), Style::Body, BODY_PT)?;
        let (aw, dw) = (width(&authority), width(&date));
        let right = LEFT + BODY_W;
        let date_x = (right - DATE_RIGHT_CELLS * CELL - dw).max(LEFT);
        let centre = date_x + dw / 2.0;
        // Centred over the date, but at least two characters from the right edge.
        let auth_x = (centre - aw / 2.0).min(right - 2.0 * CELL - aw).max(LEFT);
        blocks.push(Block::Signature(vec![
            BodyLine {
                chars: authority,
                x: auth_x,
            },
            BodyLine { chars: date, x: date_x },
        ]));
    }

    // Pages: 22 grid lines each; the first starts under the head.
    let mut pages: Vec<Vec<(usize, BodyLine)>> = vec![Vec::new()];
    let mut slot = head_slots.min(LINES);
    for block in blocks {
        match block {
            Block::Lines(lines) => {
                for line in lines {
                    if slot >= LINES {
                        pages.push(Vec::new());
                        slot = 0;
                    }
                    if let Some(p) = pages.last_mut() {
                        p.push((slot, line));
                    }
                    slot += 1;
                }
            }
            Block::Signature(lines) => {
                let need = SEAL_LINES + lines.len();
                if slot + need > LINES {
                    // Never a signature alone on a page: the last line of
                    // text goes over with it.
                    let carried = pages.last_mut().and_then(|p| p.pop());
                    pages.push(Vec::new());
                    slot = 0;
                    if let (Some((_, line)), Some(p)) = (carried, pages.last_mut()) {
                        p.push((0, line));
                        slot = 1;
                    }
                }
                slot += SEAL_LINES;
                for line in lines {
                    if let Some(p) = pages.last_mut() {
                        p.push((slot, line));
                    }
                    slot += 1;
                }
            }
        }
    }

    let count = pages.len();
    let mut out = Vec::with_capacity(count);
    for (index, lines) in pages.into_iter().enumerate() {
        let mut page = if index == 0 {
            std::mem::take(&mut first)
        } else {
            Page::default()
        };
        for (slot, line) in lines {
            for r in runs(&line.chars, line.x, slot_baseline(slot), BODY_PT, Ink::Black) {
                page.items.push(Item::Text(r));
            }
        }
        folio(faces, &mut page, index + 1)?;
        out.push(page);
    }
    Ok(out)
}

/// Adds a centred line to a page.
fn centred(page: &mut Page, chars: &[Shaped], baseline: f32, size: f32, ink: Ink, within: f32) {
    let x = LEFT + ((within - width(chars)) / 2.0).max(0.0);
    for r in runs(chars, x, baseline, size, ink) {
        page.items.push(Item::Text(r));
    }
}

/// `chars` broken to the body's width, each line centred in black at `size`
/// from `*y` down, `advance` apart; `*y` ends below the last.
fn centred_lines(page: &mut Page, chars: &[Shaped], y: &mut f32, size: f32, advance: f32) {
    for r in break_lines(chars, BODY_W, BODY_W) {
        centred(page, &chars[r], baseline_at(*y, size), size, Ink::Black, BODY_W);
        *y += advance;
    }
}

/// `— N —` in 4号 under the 版心: odd pages at the right, even pages at the
/// left, one character in from the edge (GB/T 9704 7.5.1).
fn folio(faces: &Faces, page: &mut Page, number: usize) -> Result<(), RenderError> {
    let chars = shape(faces, &format!("— {number} —"), Style::Folio, FOLIO_PT)?;
    let w = width(&chars);
    let x = if number % 2 == 1 {
        LEFT + BODY_W - FOLIO_PT - w
    } else {
        LEFT + FOLIO_PT
    };
    // The dash sits mid-em: put that middle on the line 7 mm under the 版心.
    let dash_above_baseline = (EM_TOP - 0.5) * FOLIO_PT;
    let baseline = TOP + BODY_H + FOLIO_GAP + dash_above_baseline;
    for r in runs(&chars, x, baseline, FOLIO_PT, Ink::Black) {
        page.items.push(Item::Text(r));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::fonts::faces;
    use super::*;

    fn body_lines(pages: &[Page]) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (i, p) in pages.iter().enumerate() {
            let mut last: Option<f32> = None;
            for item in &p.items {
                if let Item::Text(r) = item {
                    if last == Some(r.baseline) {
                        if let Some((_, s)) = out.last_mut() {
                            let s: &mut String = s;
                            s.push_str(&r.text);
                        }
                    } else {
                        out.push((i + 1, r.text.clone()));
                    }
                    last = Some(r.baseline);
                }
            }
        }
        out
    }

    fn src<'a>(body: &'a str) -> Source<'a> {
        Source {
            body,
            authority: "某区应急管理局",
            title: "行政处罚决定书",
            number: "某应急罚〔2026〕1号",
        }
    }

    #[test]
    fn the_grid_is_the_standards() {
        assert!((CELL * CHARS as f32 - 156.0 * MM).abs() < 1e-3);
        assert!((PITCH * LINES as f32 - 225.0 * MM).abs() < 1e-3);
        assert!((PAGE_W - 595.28).abs() < 0.01 && (PAGE_H - 841.89).abs() < 0.01);
        // 3号 on a 28-character line: the cell is a little under 16 pt.
        const { assert!(CELL < BODY_PT && CELL > 15.7) };
    }

    #[test]
    fn a_full_paragraph_line_holds_26_characters_after_the_indent_and_28_after() {
        let f = faces().unwrap();
        let text = "国".repeat(26 + 28 + 5);
        let chars = shape(f, &text, Style::Body, BODY_PT).unwrap();
        let lines = break_lines(&chars, BODY_W - 2.0 * CELL, BODY_W);
        assert_eq!(lines, vec![0..26, 26..54, 54..59]);
    }

    #[test]
    fn closing_punctuation_never_starts_a_line_and_numbers_stay_whole() {
        let f = faces().unwrap();
        let text = format!("{}。后", "国".repeat(28));
        let chars = shape(f, &text, Style::Body, BODY_PT).unwrap();
        let lines = break_lines(&chars, BODY_W, BODY_W);
        assert_eq!(lines[0], 0..27, "the last 国 goes down with the 。");
        assert_eq!(chars[lines[1].start].ch, '国');
        let text = format!("{}人民币20,000.00元", "国".repeat(22));
        let chars = shape(f, &text, Style::Body, BODY_PT).unwrap();
        let lines = break_lines(&chars, BODY_W, BODY_W);
        let second: String = chars[lines[1].clone()].iter().map(|c| c.ch).collect();
        assert!(
            second.starts_with("20,000.00") || second.starts_with("币20"),
            "{second}"
        );
    }

    #[test]
    fn text_comes_out_whole_and_in_order() {
        let f = faces().unwrap();
        let body = "某区应急管理局\n行政处罚决定书\n\n某应急罚〔2026〕1号\n\n当事人：某某有限公司\n\n一、违法事实和证据\n经查，当事人未按规定开展安全生产教育和培训。\n\n某区应急管理局\n2026年12月5日\n";
        let pages = layout(f, &src(body)).unwrap();
        let got: String = body_lines(&pages).into_iter().map(|(_, s)| s).collect();
        let want: String = body.chars().filter(|c| !c.is_whitespace()).collect::<String>() + "—1—";
        let got: String = got.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(got, want);
        // The mark and the rule are red.
        let red = pages[0]
            .items
            .iter()
            .filter(|i| matches!(i, Item::Text(r) if r.ink == Ink::Red))
            .count();
        assert!(red >= 1);
        assert!(pages[0].items.iter().any(|i| matches!(i, Item::Rule { .. })));
    }

    #[test]
    fn long_text_flows_over_pages_and_the_signature_never_stands_alone() {
        let f = faces().unwrap();
        let para = format!("{}。", "国".repeat(53)); // two full lines with the indent
        for n in 1..40 {
            let body = format!(
                "某区应急管理局\n行政处罚决定书\n某应急罚〔2026〕1号\n{}\n某区应急管理局\n2026年12月5日\n",
                vec![para.as_str(); n].join("\n")
            );
            let pages = layout(f, &src(&body)).unwrap();
            let lines = body_lines(&pages);
            let last_page = pages.len();
            let on_last: Vec<_> = lines.iter().filter(|(p, _)| *p == last_page).collect();
            // Text, authority, date and page number: never only the signature.
            assert!(on_last.len() >= 4, "n={n}: {on_last:?}");
            assert!(on_last.iter().any(|(_, s)| *s == format!("— {last_page} —")));
        }
    }

    #[test]
    fn page_numbers_alternate_sides() {
        let f = faces().unwrap();
        let body = format!("标题\n{}", "国".repeat(28 * 60));
        let pages = layout(
            f,
            &Source {
                body: &body,
                authority: "",
                title: "标题",
                number: "",
            },
        )
        .unwrap();
        assert!(pages.len() >= 3);
        let folio_x = |p: &Page| match p.items.last() {
            Some(Item::Text(r)) => r.x,
            _ => panic!("no page number"),
        };
        assert!(folio_x(&pages[0]) > LEFT + BODY_W / 2.0, "odd pages: right");
        assert!(folio_x(&pages[1]) < LEFT + BODY_W / 2.0, "even pages: left");
    }

    #[test]
    fn a_character_no_font_has_is_refused_not_dropped() {
        let f = faces().unwrap();
        let e = layout(f, &src("当事人：\u{1F600}")).unwrap_err();
        assert!(matches!(e, RenderError::Unprintable('\u{1F600}')));
    }
}
