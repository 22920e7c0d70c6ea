//! Documents as they are printed: each notice as a PDF in the layout of
//! GB/T 9704-2012 《党政机关公文格式》, set in fonts that are compiled into
//! the binary.
//!
//! Pure: a document's stored text (the `body` the templates of
//! [`crate::domain::notice`] produced) in, PDF bytes out — no I/O, no clock,
//! no system font look-up. The text is the only source: the PDF is laid out
//! from the very string the bundle carries, so the two cannot disagree, and
//! no character of it is dropped or reordered (one the built-in fonts cannot
//! print is an error, [`RenderError::Unprintable`]).
//!
//! Deterministic: the same text, title, number, authority and date give the
//! same bytes in every process on every machine — the only date written is
//! the document's own, the file ID is a hash of the content, and the font
//! subsets depend on the glyphs used alone. The file is PDF/A-2u, so archives
//! take it and its text can be extracted.
//!
//! Layout (`layout.rs`): A4; 天头 37 mm, 订口 28 mm, 版心 156 × 225 mm; 22
//! lines of 28 characters at 3号 (16 pt) 仿宋 (FandolFang); a first line
//! equal to the authority's name is its red mark (发文机关标志) in a heavy face
//! (FandolHei Bold); the title line is centred at 2号 in that face; the
//! number line under it is centred, with a red rule 4 mm below; paragraphs
//! are indented two characters (a salutation ending in `：` is not); lines
//! such as `一、违法事实和证据` are headings in the heavy face; a last pair of
//! lines "authority, date" is the signature, the date four characters from
//! the right and the authority centred over it, three lines below the text
//! for the seal, and never alone on a page; page numbers `— N —` in 4号 7 mm
//! under the 版心, at the right on odd pages and the left on even ones.

mod fonts;
mod layout;
mod pdf;

use chrono::NaiveDate;

use crate::domain::record::sha256_hex;

/// The media type of rendered documents.
pub const MEDIA_TYPE: &str = "application/pdf";

/// What a rendering was made with, recorded with it: a change to the layout,
/// the fonts or the PDF library changes the bytes, and so this string.
pub const RENDERER: &str =
    "gongshi-pdf/1 (GB/T 9704-2012; krilla 0.8; FandolFang 0.3, FandolHei 0.3, Droid Sans Fallback)";

/// A document to print.
#[derive(Debug, Clone, Copy)]
pub struct PrintDocument<'a> {
    /// The title, e.g. 行政处罚决定书.
    pub title: &'a str,
    /// The document number.
    pub number: &'a str,
    /// The document's text, exactly as stored.
    pub body: &'a str,
    /// The deciding authority.
    pub authority: &'a str,
    /// The document's date (the decision date): the PDF's creation date.
    pub dated: NaiveDate,
}

/// A rendered PDF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdf {
    /// The file.
    pub bytes: Vec<u8>,
    /// Its pages.
    pub page_count: u32,
    /// SHA-256 (hex) of `bytes`.
    pub sha256: String,
}

/// Why a document could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The text holds a character none of the built-in fonts has: printing
    /// it would drop it, so the document is not printed.
    #[error("the character {0:?} (U+{cp:04X}) is in none of the built-in fonts", cp = u32::from(*.0))]
    Unprintable(char),
    /// The PDF library refused (a bug, or a font problem).
    #[error("PDF rendering failed: {0}")]
    Pdf(String),
}

/// Renders a document.
pub fn pdf(doc: &PrintDocument<'_>) -> Result<Pdf, RenderError> {
    let faces = fonts::faces().map_err(RenderError::Pdf)?;
    let pages = layout::layout(
        faces,
        &layout::Source {
            body: doc.body,
            authority: doc.authority,
            title: doc.title,
            number: doc.number,
        },
    )?;
    let bytes = pdf::write(
        faces,
        &pages,
        &pdf::Info {
            title: if doc.number.is_empty() {
                doc.title.to_string()
            } else {
                format!("{}（{}）", doc.title, doc.number)
            },
            author: doc.authority,
            dated: doc.dated,
        },
    )?;
    Ok(Pdf {
        sha256: sha256_hex(&bytes),
        page_count: u32::try_from(pages.len()).unwrap_or(u32::MAX),
        bytes,
    })
}

/// A file name for a document: `行政处罚决定书-沪浦应急罚〔2025〕15号.pdf`,
/// with characters that file systems refuse replaced by `_`.
pub fn file_name(title: &str, number: &str) -> String {
    let stem = if number.is_empty() {
        title.to_string()
    } else {
        format!("{title}-{number}")
    };
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    format!("{}.pdf", clean.trim_matches(['.', ' ']))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "上海市浦东新区应急管理局\n行政处罚决定书\n\n沪浦应急罚〔2026〕12号\n\n当事人：上海某某化工有限公司\n统一社会信用代码：91310115MA1K000006\n\n一、违法事实和证据\n经查，当事人未按照规定对从业人员进行安全生产教育和培训。\n\n上海市浦东新区应急管理局\n2026年12月5日\n";

    fn doc(body: &str) -> PrintDocument<'_> {
        PrintDocument {
            title: "行政处罚决定书",
            number: "沪浦应急罚〔2026〕12号",
            body,
            authority: "上海市浦东新区应急管理局",
            dated: NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
        }
    }

    #[test]
    fn the_same_document_renders_to_the_same_bytes() {
        let a = pdf(&doc(BODY)).unwrap();
        let b = pdf(&doc(BODY)).unwrap();
        assert_eq!(a, b);
        assert!(a.bytes.starts_with(b"%PDF-"));
        assert_eq!(a.page_count, 1);
        let other = pdf(&doc(&BODY.replace("培训", "训练"))).unwrap();
        assert_ne!(other.sha256, a.sha256);
    }

    /// The bytes on every machine: this hash was taken when the renderer was
    /// written. A change of layout, fonts or krilla changes it — and with it
    /// what [`RENDERER`] should say (stored PDFs keep their bytes).
    #[test]
    fn the_bytes_are_the_same_on_every_machine() {
        let a = pdf(&doc(BODY)).unwrap();
        assert_eq!(
            a.sha256, "c3db9ffd99da346b5753bb753780b3bdc7b1955fed78ec441260ac39717dd13e",
            "RENDERER: {RENDERER}"
        );
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(
            file_name("行政处罚决定书", "沪浦应急罚〔2026〕12号"),
            "行政处罚决定书-沪浦应急罚〔2026〕12号.pdf"
        );
        assert_eq!(file_name("告知书", "a/b:c"), "告知书-a_b_c.pdf");
    }
}
