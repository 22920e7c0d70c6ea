//! Notices as printed documents (issue 19): `RenderNoticeDocument` returns
//! PDFs that a reader's tools (poppler's pdftotext, pdffonts, pdfinfo,
//! pdftoppm) find complete, A4, with every font embedded and every page
//! numbered; the bytes never change — across calls, restarts and backends —
//! and match the bundle's `pdf_sha256`; another enterprise is refused; and
//! `gongshi notices pdf` writes the same files. Both backends.

use std::path::{Path, PathBuf};
use std::process::Command;

use gongshi::api::pb;
use gongshi::domain::lifecycle::Role;
use gongshi::domain::record::sha256_hex;
use pb::notice_service_client::NoticeServiceClient;
use tonic::transport::Channel;

use crate::support::bin::gongshi;
use crate::support::calls::{Enf, events_of};
use crate::support::calls::{notice_bundle, notice_bundles};
use crate::support::{self, TestServer, credit_code, req, sql};

const AUTHORITY: &str = "上海市浦东新区应急管理局";

/// Where the artefacts a person looks at are kept (page images).
fn artefacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("notice_pdf");
    std::fs::create_dir_all(&dir).expect("artefact dir");
    dir
}

/// Runs a poppler tool; its stdout.
fn poppler(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} (Debian poppler-utils; .ci/run installs it): {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{tool} {args:?}: {stderr}");
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn without_whitespace(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// `— N —` lines (the page numbers), as pdftotext gives them.
fn is_folio(line: &str) -> bool {
    let t = without_whitespace(line);
    t.strip_prefix('—')
        .and_then(|r| r.strip_suffix('—'))
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// What a reader's tools find in a PDF.
struct Reading {
    pages: usize,
    a4: bool,
    fonts: Vec<String>,
    /// Text of each page (pdftotext, reading order).
    page_text: Vec<String>,
}

fn read(path: &Path) -> Reading {
    let p = path.to_str().expect("path");
    let info = poppler("pdfinfo", &[p]);
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let pages: usize = field("Pages:").parse().expect("page count");
    let a4 = field("Page size:") == "595.276 x 841.89 pts (A4)";
    let fonts = poppler("pdffonts", &[p]).lines().skip(2).map(String::from).collect();
    let page_text = (1..=pages)
        .map(|i| poppler("pdftotext", &["-f", &i.to_string(), "-l", &i.to_string(), p, "-"]))
        .collect();
    Reading {
        pages,
        a4,
        fonts,
        page_text,
    }
}

async fn notices(s: &TestServer) -> NoticeServiceClient<Channel> {
    NoticeServiceClient::new(s.channel().await)
}

fn safety(number: &str, party: &str) -> pb::PenaltyDecision {
    let mut d = support::decision(number, "2025-06-10", party);
    d.sector = pb::Sector::SafetyProduction as i32;
    d
}

/// The backend, a server on 2025-06-20, an officer's key, and the enforcement and notice
/// clients.
async fn desk(db: &support::TestDb) -> (&'static str, TestServer, String, Enf, NoticeServiceClient<Channel>) {
    let server = TestServer::start(&db.url, support::clock_at("2025-06-20")).await;
    let officer = server.key(Role::Officer, None).await;
    let (e, n) = (server.enforcement().await, notices(&server).await);
    (db.backend, server, officer, e, n)
}

/// Records and publishes [`safety`] numbered `number`, of the enterprise
/// `credit_code("91310115", n)`.
async fn publish_safety(e: &mut Enf, officer: &str, number: &str, n: u64) -> pb::PenaltyDecision {
    support::create_and_publish(e, officer, safety(number, &credit_code("91310115", n))).await
}

async fn bundle(c: &mut NoticeServiceClient<Channel>, key: &str, decision: &str) -> pb::NoticeBundle {
    c.get_notice_bundle(req(notice_bundle(decision, 0), key))
        .await
        .expect("bundle")
        .into_inner()
}

async fn render(
    c: &mut NoticeServiceClient<Channel>,
    r: tonic::Request<pb::RenderNoticeDocumentRequest>,
) -> Result<pb::RenderedDocument, tonic::Status> {
    c.render_notice_document(r).await.map(|r| r.into_inner())
}

fn render_req(key: &str, decision: &str, kind: i32) -> tonic::Request<pb::RenderNoticeDocumentRequest> {
    req(
        pb::RenderNoticeDocumentRequest {
            name: format!("{decision}/noticeBundle"),
            kind,
        },
        key,
    )
}

/// Checks one printed document as a reader would; returns its reading.
fn check_document(ctx: &str, doc: &pb::NoticeDocument, r: &pb::RenderedDocument, file: &Path) -> Reading {
    assert_eq!(r.media_type, "application/pdf", "{ctx}");
    assert!(r.content.starts_with(b"%PDF-"), "{ctx}: a PDF");
    assert_eq!(r.sha256, sha256_hex(&r.content), "{ctx}: sha256 is the content's");
    assert_eq!(r.sha256, doc.pdf_sha256, "{ctx}: the bundle states the file's hash");
    assert!(
        r.file_name.ends_with(".pdf") && r.file_name.contains(&doc.title),
        "{ctx}: {}",
        r.file_name
    );
    std::fs::write(file, &r.content).expect("write PDF");
    let reading = read(file);
    assert_eq!(reading.pages, r.page_count as usize, "{ctx}: page_count is the file's");
    assert!(reading.a4, "{ctx}: A4");
    assert!(!reading.fonts.is_empty(), "{ctx}: fonts listed");
    for f in &reading.fonts {
        // name type encoding emb sub uni object ID
        let cols: Vec<&str> = f.split_whitespace().collect();
        let n = cols.len();
        assert!(n >= 7 && cols[n - 5] == "yes", "{ctx}: font not embedded: {f}");
        assert_eq!(cols[n - 3], "yes", "{ctx}: font without ToUnicode: {f}");
    }
    // Every page carries its number.
    for (i, t) in reading.page_text.iter().enumerate() {
        let folios: Vec<&str> = t.lines().filter(|l| is_folio(l)).collect();
        assert_eq!(
            folios.iter().map(|l| without_whitespace(l)).collect::<Vec<_>>(),
            vec![format!("—{}—", i + 1)],
            "{ctx}: page {} is numbered",
            i + 1
        );
    }
    // The whole body, in order, nothing else (page numbers aside).
    let text: String = reading
        .page_text
        .iter()
        .flat_map(|t| t.lines())
        .filter(|l| !is_folio(l))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        without_whitespace(&text),
        without_whitespace(&doc.body),
        "{ctx}: the PDF's text is the body's"
    );
    assert!(text.contains(&doc.number), "{ctx}: document number");
    reading
}

#[tokio::test]
async fn each_document_prints_complete_on_a4_with_embedded_fonts_and_the_same_bytes_every_time() {
    let mut hashes_by_backend = Vec::new();
    for db in support::backends().await {
        let b = db.backend;
        let clock = support::clock_at("2025-06-20");
        let server = TestServer::start(&db.url, clock.clone()).await;
        let officer = server.key(Role::Officer, None).await;
        let mut e = server.enforcement().await;
        let party = credit_code("91310115", 77);
        let decision = support::create_and_publish(&mut e, &officer, safety("沪浦应急罚〔2025〕15号", &party)).await;
        let mut n = notices(&server).await;
        let first = bundle(&mut n, &officer, &decision.name).await;
        assert_eq!(first.documents.len(), 3, "{b}: 三书同达");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut hashes = Vec::new();
        for doc in &first.documents {
            let kind = pb::DocumentKind::try_from(doc.kind).expect("kind").as_str_name();
            let ctx = format!("{b} {kind}");
            assert_eq!(doc.pdf_sha256.len(), 64, "{ctx}: rendered with the bundle");
            let r = render(&mut n, render_req(&officer, &decision.name, doc.kind))
                .await
                .expect("render");
            let file = dir.path().join(format!("{kind}.pdf"));
            let reading = check_document(&ctx, doc, &r, &file);
            let text = reading.page_text.concat();
            assert!(text.contains("沪浦应急罚〔2025〕15号"), "{ctx}: decision number");
            assert!(text.contains("上海某某化工有限公司"), "{ctx}: party");
            assert!(text.contains(AUTHORITY), "{ctx}: authority");
            // The first page as a person sees it (issue 19: checked by eye),
            // kept in target/tmp/notice_pdf/.
            let png = artefacts().join(format!("{b}-{}", kind.to_lowercase()));
            let first_page_at_80_dpi = ["-png", "-r", "80", "-f", "1", "-l", "1"];
            let files = [file.to_str().unwrap(), png.to_str().unwrap()];
            poppler("pdftoppm", &[&first_page_at_80_dpi[..], &files].concat());
            if doc.kind == pb::DocumentKind::PenaltyDecision as i32 {
                // The 版头 comes first, in the text's order.
                let head: Vec<&str> = reading.page_text[0]
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .take(3)
                    .collect();
                assert_eq!(head, [AUTHORITY, "行政处罚决定书", "沪浦应急罚〔2025〕15号"], "{ctx}");
            }
            // Again: the same bytes.
            let again = render(&mut n, render_req(&officer, &decision.name, doc.kind))
                .await
                .unwrap();
            assert_eq!(again, r, "{ctx}: second request");
            hashes.push(r.sha256.clone());
        }
        let again = bundle(&mut n, &officer, &decision.name).await;
        assert_eq!(again, first, "{b}: the bundle is unchanged by printing");

        // After a restart.
        server.stop().await;
        let server = TestServer::start(&db.url, clock.clone()).await;
        let officer = server.key(Role::Officer, None).await;
        let mut n = notices(&server).await;
        for (doc, h) in first.documents.iter().zip(&hashes) {
            let r = render(&mut n, render_req(&officer, &decision.name, doc.kind))
                .await
                .unwrap();
            assert_eq!(&r.sha256, h, "{b}: same bytes after a restart");
            assert_eq!(sha256_hex(&r.content), *h);
        }
        server.stop().await;
        hashes_by_backend.push((b, hashes));
    }
    // Rendered from scratch by another store, the same decision prints to
    // the same bytes: nothing of the moment or the machine is in them.
    if let [(a, x), (b, y)] = hashes_by_backend.as_slice() {
        assert_eq!(x, y, "{a} and {b} printed different bytes for the same documents");
    }
}

#[tokio::test]
async fn a_long_decision_breaks_across_pages_of_22_lines() {
    for db in support::backends().await {
        let (b, server, officer, mut e, mut n) = desk(&db).await;
        let mut d = safety("沪浦应急罚〔2025〕16号", &credit_code("91310115", 78));
        let sentence = "经查，当事人于2025年3月至5月间未按规定组织从业人员参加安全生产教育和培训，\
                        未如实记录培训的时间、内容、参加人员以及考核结果等情况，现场检查时亦未能提供相关台账。";
        d.violation_facts = (1..=30)
            .map(|i| format!("{i}. {sentence}"))
            .collect::<Vec<_>>()
            .join("\n");
        let decision = support::create_and_publish(&mut e, &officer, d).await;
        let got = bundle(&mut n, &officer, &decision.name).await;
        let doc = got
            .documents
            .iter()
            .find(|d| d.kind == pb::DocumentKind::PenaltyDecision as i32)
            .expect("decision document");
        let r = render(&mut n, render_req(&officer, &decision.name, doc.kind))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let reading = check_document(&format!("{b} long"), doc, &r, &dir.path().join("long.pdf"));
        assert!(reading.pages >= 4, "{b}: {} pages", reading.pages);
        // Every page between the first and the last is full: 22 lines of at
        // most 28 characters (the grid of GB/T 9704).
        for (i, t) in reading.page_text.iter().enumerate().skip(1).take(reading.pages - 2) {
            let lines: Vec<&str> = t.lines().filter(|l| !l.trim().is_empty() && !is_folio(l)).collect();
            assert_eq!(lines.len(), 22, "{b}: page {} has 22 lines: {lines:#?}", i + 1);
            for l in lines {
                // Half-width characters take half a cell.
                let cells: usize = l.trim().chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
                assert!(cells <= 56, "{b}: page {}: line longer than 28 characters: {l}", i + 1);
            }
        }
        // The signature ends the last page, under the text.
        let last = &reading.page_text[reading.pages - 1];
        let tail: Vec<&str> = last.lines().filter(|l| !l.trim().is_empty() && !is_folio(l)).collect();
        assert!(tail.len() >= 3, "{b}: the signature is never alone: {tail:?}");
        assert_eq!(tail[tail.len() - 2..], [AUTHORITY, "2025年6月10日"], "{b}");
        server.stop().await;
    }
}

#[tokio::test]
async fn another_enterprise_is_refused_as_for_the_bundle() {
    for db in support::backends().await {
        let b = db.backend;
        let server = TestServer::start(&db.url, support::clock_at("2025-06-20")).await;
        let officer = server.key(Role::Officer, None).await;
        let code_a = credit_code("91310115", 81);
        let code_b = credit_code("91310115", 82);
        let ent_a = server.key(Role::Enterprise, Some(&code_a)).await;
        let ent_b = server.key(Role::Enterprise, Some(&code_b)).await;
        let [portal, auditor, discloser] = server.keys([Role::Portal, Role::Auditor, Role::Discloser]).await;
        let mut e = server.enforcement().await;
        let mut n = notices(&server).await;
        let decision = support::create_and_publish(&mut e, &officer, safety("沪浦应急罚〔2025〕17号", &code_a)).await;
        let kind = pb::DocumentKind::PenaltyDecision as i32;
        let own = render(&mut n, render_req(&ent_a, &decision.name, kind))
            .await
            .expect("own");
        let by_officer = render(&mut n, render_req(&officer, &decision.name, kind))
            .await
            .unwrap();
        let by_auditor = render(&mut n, render_req(&auditor, &decision.name, kind))
            .await
            .unwrap();
        assert_eq!(own, by_officer, "{b}");
        assert_eq!(own, by_auditor, "{b}");
        let mut for_a = render_req(&portal, &decision.name, kind);
        for_a
            .metadata_mut()
            .insert("x-gongshi-on-behalf-of", code_a.parse().unwrap());
        assert_eq!(render(&mut n, for_a).await.expect("portal for A"), own, "{b}");

        // Another enterprise: NOT_FOUND, exactly as GetNoticeBundle answers it.
        let other = render(&mut n, render_req(&ent_b, &decision.name, kind))
            .await
            .unwrap_err();
        assert_eq!(other.code(), tonic::Code::NotFound, "{b}: {other:?}");
        let bundle_err = n
            .get_notice_bundle(req(notice_bundle(&decision.name, 0), &ent_b))
            .await
            .unwrap_err();
        assert_eq!(bundle_err.code(), other.code(), "{b}");
        assert_eq!(support::reason(&bundle_err), support::reason(&other), "{b}");
        let mut for_b = render_req(&portal, &decision.name, kind);
        for_b
            .metadata_mut()
            .insert("x-gongshi-on-behalf-of", code_b.parse().unwrap());
        assert_eq!(
            render(&mut n, for_b).await.unwrap_err().code(),
            tonic::Code::NotFound,
            "{b}"
        );
        // A role without notices at all.
        let denied = render(&mut n, render_req(&discloser, &decision.name, kind))
            .await
            .unwrap_err();
        assert_eq!(denied.code(), tonic::Code::PermissionDenied, "{b}");

        // Bad requests.
        let none = render(&mut n, render_req(&officer, &decision.name, 0))
            .await
            .unwrap_err();
        assert_eq!(none.code(), tonic::Code::InvalidArgument, "{b}");
        assert_eq!(support::bad_fields(&none), ["kind"], "{b}");
        let bad_name = render(
            &mut n,
            req(
                pb::RenderNoticeDocumentRequest {
                    name: decision.name.clone(),
                    kind,
                },
                &officer,
            ),
        )
        .await
        .unwrap_err();
        assert_eq!(bad_name.code(), tonic::Code::InvalidArgument, "{b}");
        // The default set has no 行政合规建议书.
        let absent = render(
            &mut n,
            render_req(&officer, &decision.name, pb::DocumentKind::ComplianceAdvice as i32),
        )
        .await
        .unwrap_err();
        assert_eq!(absent.code(), tonic::Code::NotFound, "{b}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_character_no_font_has_is_refused_not_dropped() {
    for db in support::backends().await {
        let (b, server, officer, mut e, mut n) = desk(&db).await;
        let mut d = safety("沪浦应急罚〔2025〕18号", &credit_code("91310115", 83));
        // U+20000 (CJK Extension B) is in none of the built-in fonts; 喆
        // (outside GB2312) is printed from the fallback face.
        d.party.as_mut().unwrap().name = "上海\u{20000}喆化工有限公司".into();
        let decision = support::create_and_publish(&mut e, &officer, d).await;
        let got = bundle(&mut n, &officer, &decision.name).await;
        for doc in &got.documents {
            let r = render(&mut n, render_req(&officer, &decision.name, doc.kind)).await;
            if doc.body.contains('\u{20000}') {
                assert_eq!(doc.pdf_sha256, "", "{b}: not printed, so no hash");
                let err = r.unwrap_err();
                assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{b}: {err:?}");
                assert_eq!(support::reason(&err), "UNPRINTABLE_CHARACTER", "{b}");
                assert!(err.message().contains("U+20000"), "{b}: {}", err.message());
            } else {
                assert_eq!(r.expect("printable document").sha256, doc.pdf_sha256, "{b}");
            }
        }
        // A printable name outside GB2312 comes out whole.
        let mut d = safety("沪浦应急罚〔2025〕19号", &credit_code("91310115", 84));
        d.party.as_mut().unwrap().name = "上海喆堃化工有限公司".into();
        let decision = support::create_and_publish(&mut e, &officer, d).await;
        let got = bundle(&mut n, &officer, &decision.name).await;
        let doc = &got.documents[0];
        let r = render(&mut n, render_req(&officer, &decision.name, doc.kind))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let reading = check_document(&format!("{b} 喆堃"), doc, &r, &dir.path().join("x.pdf"));
        assert!(reading.page_text.concat().contains("上海喆堃化工有限公司"), "{b}");
        assert!(
            reading.fonts.iter().any(|f| f.contains("DroidSansFallback")),
            "{b}: the fallback face is embedded: {:?}",
            reading.fonts
        );
        server.stop().await;
    }
}

async fn rendered_events(e: &mut Enf, key: &str, decision: &str) -> Vec<pb::PenaltyDecisionEvent> {
    events_of(e, key, decision, pb::DecisionEventKind::NoticeRendered).await
}

#[tokio::test]
async fn a_bundle_stored_before_pdfs_existed_is_printed_on_its_next_request_to_the_same_bytes() {
    for db in support::backends().await {
        let (b, server, officer, mut e, mut n) = desk(&db).await;
        let decision = publish_safety(&mut e, &officer, "沪浦应急罚〔2025〕20号", 85).await;
        let first = bundle(&mut n, &officer, &decision.name).await;
        // As if the bundle had been stored by a release without PDFs.
        let forget_pdfs: &[&str] = if b == "postgres" {
            &[
                "ALTER TABLE notice_pdfs DISABLE TRIGGER USER",
                "DELETE FROM notice_pdfs",
                "ALTER TABLE notice_pdfs ENABLE TRIGGER USER",
            ]
        } else {
            &[
                "DROP TRIGGER notice_pdfs_no_delete",
                "DELETE FROM notice_pdfs",
                "CREATE TRIGGER notice_pdfs_no_delete BEFORE DELETE ON notice_pdfs \
                 BEGIN SELECT RAISE(ABORT, 'table notice_pdfs is append-only'); END",
            ]
        };
        sql::run(&db.url, b, forget_pdfs).await;
        assert_eq!(rendered_events(&mut e, &officer, &decision.name).await.len(), 1, "{b}");
        let list = notice_bundles(&mut n, &officer).await;
        assert!(
            list.notice_bundles[0].documents.iter().all(|d| d.pdf_sha256.is_empty()),
            "{b}: nothing printed yet"
        );
        let again = bundle(&mut n, &officer, &decision.name).await;
        assert_eq!(again, first, "{b}: printed again on request, to the same bytes");
        let printed = rendered_events(&mut e, &officer, &decision.name).await;
        assert_eq!(printed.len(), 2, "{b}: the printing is recorded");
        assert_eq!(
            printed[1].document_sha256,
            first.documents.iter().map(|d| d.pdf_sha256.clone()).collect::<Vec<_>>(),
            "{b}"
        );
        // The list shows the hashes now too.
        let list = notice_bundles(&mut n, &officer).await;
        assert_eq!(list.notice_bundles, std::slice::from_ref(&first), "{b}");
        server.stop().await;
    }
}

#[tokio::test]
async fn the_service_window_command_writes_the_pdfs_and_their_sums() {
    for db in support::backends().await {
        let (b, server, officer, mut e, mut n) = desk(&db).await;
        let decision = publish_safety(&mut e, &officer, "沪浦应急罚〔2025〕21号", 86).await;
        let id = decision.name.strip_prefix("penaltyDecisions/").unwrap().to_string();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("window");
        let run = gongshi()
            .args([
                "notices",
                "pdf",
                &id,
                "--out",
                out.to_str().unwrap(),
                "--database-url",
                &db.url,
            ])
            .output()
            .expect("run gongshi");
        assert!(run.status.success(), "{b}: {}", String::from_utf8_lossy(&run.stderr));
        // The bundle was rendered by the command; the server sees the same.
        let got = bundle(&mut n, &officer, &decision.name).await;
        let sums = std::fs::read_to_string(out.join("SHA256SUMS")).expect("SHA256SUMS");
        let lines: Vec<&str> = sums.lines().collect();
        assert_eq!(lines.len(), got.documents.len(), "{b}: {sums}");
        for (doc, line) in got.documents.iter().zip(lines) {
            let (hash, file) = line.split_once("  ").expect("sha256sum format");
            assert_eq!(hash, doc.pdf_sha256, "{b}");
            let bytes = std::fs::read(out.join(file)).expect("file written");
            assert_eq!(sha256_hex(&bytes), doc.pdf_sha256, "{b}: {file}");
            assert!(file.starts_with(&doc.title), "{b}: {file}");
        }
        let check = Command::new("sha256sum")
            .args(["-c", "SHA256SUMS"])
            .current_dir(&out)
            .output()
            .expect("sha256sum");
        let stdout = String::from_utf8_lossy(&check.stdout);
        assert!(check.status.success(), "{b}: {stdout}");
        // An unknown decision: one line on stderr, non-zero exit.
        let missing = gongshi()
            .args([
                "notices",
                "pdf",
                "01ZZNOSUCHDECISION00000000",
                "--out",
                out.to_str().unwrap(),
            ])
            .args(["--database-url", &db.url])
            .output()
            .unwrap();
        assert!(!missing.status.success(), "{b}");
        assert_eq!(String::from_utf8_lossy(&missing.stderr).lines().count(), 1, "{b}");
        server.stop().await;
    }
}
