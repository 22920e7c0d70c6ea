//! The faces the documents are set in, compiled into the binary from
//! `assets/fonts/` (see the README there for sources and licences). Nothing
//! is looked up on the system, so every machine renders the same bytes.

use std::sync::LazyLock;

use skrifa::MetadataProvider;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;

/// FandolFang Regular (仿宋): the body, as GB/T 9704-2012 asks (3号仿宋).
const FANG: &[u8] = include_bytes!("../../assets/fonts/FandolFang-Regular.otf");
/// FandolHei Bold (黑体): the authority's mark, the title and first-level headings.
const HEI_BOLD: &[u8] = include_bytes!("../../assets/fonts/FandolHei-Bold.otf");
/// Droid Sans Fallback Full: every character the Fandol faces lack (they
/// cover GB2312 and a little more; this covers the whole CJK Unified
/// Ideographs block and Extension A), so a rare character in a name is
/// printed rather than lost.
const FALLBACK: &[u8] = include_bytes!("../../assets/fonts/DroidSansFallbackFull.ttf");

/// Which face a run of text is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Face {
    /// 仿宋: body text.
    Fang,
    /// Heavy face: mark, title, headings.
    HeiBold,
    /// Coverage of last resort.
    Fallback,
}

/// One face: the krilla font that is embedded and the tables used to lay
/// text out.
pub(crate) struct LoadedFace {
    /// For drawing (krilla subsets it into each PDF).
    pub(crate) font: krilla::text::Font,
    charmap: skrifa::charmap::Charmap<'static>,
    metrics: GlyphMetrics<'static>,
    units_per_em: f32,
}

impl LoadedFace {
    /// The bytes are compiled in, so a failure here is a broken build (the
    /// unit test below finds it); it is still reported, not panicked on.
    fn load(name: &str, bytes: &'static [u8]) -> Result<LoadedFace, String> {
        let font_ref = skrifa::FontRef::new(bytes).map_err(|e| format!("built-in font {name} does not parse: {e}"))?;
        let font = krilla::text::Font::new(krilla::Data::from(bytes), 0)
            .ok_or_else(|| format!("built-in font {name} is not usable by krilla"))?;
        let units_per_em = f32::from(font_ref.metrics(Size::unscaled(), LocationRef::default()).units_per_em);
        Ok(LoadedFace {
            font,
            charmap: font_ref.charmap(),
            metrics: font_ref.glyph_metrics(Size::unscaled(), LocationRef::default()),
            units_per_em,
        })
    }

    /// The glyph of a character, if the face has one (never `.notdef`).
    pub(crate) fn glyph(&self, ch: char) -> Option<u32> {
        self.charmap.map(ch).map(|g| g.to_u32()).filter(|g| *g != 0)
    }

    /// A glyph's advance in ems.
    pub(crate) fn advance_em(&self, glyph: u32) -> f32 {
        self.metrics
            .advance_width(skrifa::GlyphId::new(glyph))
            .map(|a| a / self.units_per_em)
            .unwrap_or(1.0)
    }
}

/// The three faces, parsed once per process.
pub(crate) struct Faces {
    fang: LoadedFace,
    hei_bold: LoadedFace,
    fallback: LoadedFace,
}

static FACES: LazyLock<Result<Faces, String>> = LazyLock::new(|| {
    Ok(Faces {
        fang: LoadedFace::load("FandolFang-Regular", FANG)?,
        hei_bold: LoadedFace::load("FandolHei-Bold", HEI_BOLD)?,
        fallback: LoadedFace::load("DroidSansFallbackFull", FALLBACK)?,
    })
});

/// The faces (parsed on first use).
pub(crate) fn faces() -> Result<&'static Faces, String> {
    FACES.as_ref().map_err(Clone::clone)
}

impl Faces {
    /// One face.
    pub(crate) fn get(&self, face: Face) -> &LoadedFace {
        match face {
            Face::Fang => &self.fang,
            Face::HeiBold => &self.hei_bold,
            Face::Fallback => &self.fallback,
        }
    }

    /// The face and glyph a character is drawn with in a style whose first
    /// choice is `preferred`: that face, then the other Fandol face, then
    /// the fallback. `None` if no face has it.
    pub(crate) fn pick(&self, preferred: Face, ch: char) -> Option<(Face, u32)> {
        let order = match preferred {
            Face::HeiBold => [Face::HeiBold, Face::Fang, Face::Fallback],
            _ => [Face::Fang, Face::HeiBold, Face::Fallback],
        };
        order.into_iter().find_map(|f| self.get(f).glyph(ch).map(|g| (f, g)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fonts_load_and_cover_what_the_documents_print() {
        let f = faces().unwrap();
        for ch in "行政处罚决定书〔〕（）：，。、；0123456789年月日—".chars() {
            assert_eq!(
                f.pick(Face::Fang, ch).map(|(face, _)| face),
                Some(Face::Fang),
                "FandolFang lacks {ch:?}"
            );
        }
        for ch in "上海市浦东新区应急管理局行政处罚决定书".chars() {
            assert_eq!(f.pick(Face::HeiBold, ch).map(|(face, _)| face), Some(Face::HeiBold));
        }
        // Characters outside GB2312 that appear in names come from the fallback.
        for ch in ['喆', '堃', '珺', '㵘'] {
            assert!(f.pick(Face::Fang, ch).is_some(), "no face has {ch:?}");
        }
        // A CJK ideograph is one em wide in the body face.
        let (_, g) = f.pick(Face::Fang, '国').unwrap();
        assert!((f.get(Face::Fang).advance_em(g) - 1.0).abs() < 0.01);
    }
}
