//! Laid-out pages to PDF/A-2u bytes with krilla: the fonts subset and
//! embedded, a text layer that maps every glyph back to its character, and
//! nothing that depends on the moment or the machine (the date inside is the
//! document's own date; the file ID is a hash of the content).

use chrono::{Datelike, NaiveDate};
use krilla::color::rgb;
use krilla::configure::{Archival, ConfigurationBuilder};
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule};
use krilla::text::{GlyphId, KrillaGlyph};
use krilla::{Document, SerializeSettings};

use super::RenderError;
use super::fonts::Faces;
use super::layout::{Ink, Item, PAGE_H, PAGE_W, Page};

/// The red of the authority's mark and the rule.
const RED: (u8, u8, u8) = (230, 0, 18);

fn fill(ink: Ink) -> Fill {
    let paint = match ink {
        Ink::Black => rgb::Color::new(0, 0, 0).into(),
        Ink::Red => rgb::Color::new(RED.0, RED.1, RED.2).into(),
    };
    Fill {
        paint,
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

/// Document-level facts written into the file.
pub(crate) struct Info<'a> {
    /// Title (document information and XMP).
    pub(crate) title: String,
    /// Author: the deciding authority.
    pub(crate) author: &'a str,
    /// The document's date, used as its creation date.
    pub(crate) dated: NaiveDate,
}

fn pdf_error(e: impl std::fmt::Debug) -> RenderError {
    RenderError::Pdf(format!("{e:?}"))
}

/// Writes the pages.
pub(crate) fn write(faces: &Faces, pages: &[Page], info: &Info<'_>) -> Result<Vec<u8>, RenderError> {
    let configuration = ConfigurationBuilder::new()
        .with_archival_validator(Archival::A2_U)
        .finish()
        .map_err(pdf_error)?;
    let settings = SerializeSettings {
        configuration,
        enable_tagging: false,
        ..SerializeSettings::default()
    };
    let mut doc = Document::new_with(settings);
    let month = u8::try_from(info.dated.month()).unwrap_or(1);
    let day = u8::try_from(info.dated.day()).unwrap_or(1);
    let year = u16::try_from(info.dated.year()).unwrap_or(2000);
    doc.set_metadata(
        Metadata::new()
            .title(info.title.clone())
            .authors(vec![info.author.to_string()])
            .language("zh-CN".into())
            .creator("gongshi".into())
            .producer("gongshi (krilla)".into())
            .creation_date(DateTime::new(year).month(month).day(day).utc_offset_hour(8)),
    );
    let page_settings = PageSettings::from_wh(PAGE_W, PAGE_H).ok_or_else(|| pdf_error("page size"))?;
    for p in pages {
        let mut page = doc.start_page_with(page_settings.clone());
        let mut surface = page.surface();
        for item in &p.items {
            match item {
                Item::Text(run) => {
                    let glyphs: Vec<KrillaGlyph> = run
                        .glyphs
                        .iter()
                        .map(|g| {
                            KrillaGlyph::new(
                                GlyphId::new(g.gid),
                                g.advance / run.size,
                                0.0,
                                0.0,
                                0.0,
                                g.range.clone(),
                                None,
                            )
                        })
                        .collect();
                    surface.set_fill(Some(fill(run.ink)));
                    surface.draw_glyphs(
                        Point::from_xy(run.x, run.baseline),
                        &glyphs,
                        faces.get(run.face).font.clone(),
                        &run.text,
                        run.size,
                        false,
                    );
                }
                Item::Rule { x, y, w, h } => {
                    let rect = Rect::from_xywh(*x, *y, *w, *h).ok_or_else(|| pdf_error("rule"))?;
                    let mut pb = PathBuilder::new();
                    pb.push_rect(rect);
                    let path = pb.finish().ok_or_else(|| pdf_error("rule path"))?;
                    surface.set_fill(Some(fill(Ink::Red)));
                    surface.draw_path(&path);
                }
            }
        }
        surface.finish();
        page.finish();
    }
    doc.finish().map_err(pdf_error)
}
