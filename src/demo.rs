//! `gongshi demo`: fills an empty database with a realistic history so a
//! newcomer can make a first real call in minutes — about 220 enterprises,
//! decisions from 2022 to 2026 under every rule set, published, corrected,
//! withdrawn, expired, repaired and under repair, bundles delivered — and
//! creates one key per role. The deciding authority is the service's first
//! user, 上海市普陀区应急管理局 (under a made-up credit code), with every
//! twelfth decision from the neighbouring 上海市静安区应急管理局.
//!
//! History is replayed through the same operations the API uses, on a clock
//! that walks from each event's date to the next, so every record, event and
//! feed entry is exactly what the live service would have written.

use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::app::keys::Caller;
use crate::app::notice::DeliveryInput;
use crate::app::repair::{SubmitInput, Upload};
use crate::app::{App, AppError, ReviewInput};
use crate::domain::clock::{Clock, ManualClock, cst_midnight};
use crate::domain::ids::compute_check_char;
use crate::domain::lifecycle::{DecisionState, ReviewChecklist, ReviewOpinion, Role, WithdrawalEvent};
use crate::domain::notice::DeliveryMethod;
use crate::domain::policy::{PenaltyKind, Procedure, Sector, Severity};
use crate::domain::record::{DecisionDoc, LegalRepresentative, Org, Party};
use crate::domain::repair::{Commitment, CommitmentFulfillment, Contact, MaterialKind, RepairAction};

/// What the demo made.
#[derive(Debug, Default)]
pub struct DemoSummary {
    /// Keys by role: (role, key).
    pub keys: Vec<(Role, String)>,
    /// The enterprise the enterprise key is bound to.
    pub enterprise_code: String,
    /// Enterprises.
    pub enterprises: usize,
    /// Decisions recorded.
    pub decisions: usize,
    /// Published.
    pub published: usize,
    /// Not published by policy.
    pub not_published: usize,
    /// Corrected.
    pub corrected: usize,
    /// Withdrawn.
    pub withdrawn: usize,
    /// Repair applications approved.
    pub repaired: usize,
    /// Repair applications still open.
    pub under_repair: usize,
    /// Expired by the expiry job.
    pub expired: u64,
    /// Bundles delivered.
    pub delivered: usize,
}

/// The deciding authority of most demo decisions: the service's first user.
pub const AUTHORITY: &str = "上海市普陀区应急管理局";
/// Its credit code in the demo: made up (checksum-valid, GB 32100-2015), not
/// the bureau's real one.
pub const AUTHORITY_CODE: &str = "11310107MB2F12345H";
/// A neighbouring bureau deciding a few of the demo's decisions, so that the
/// report's authority filter has something to filter.
pub const NEIGHBOUR: &str = "上海市静安区应急管理局";
/// Its made-up demo credit code.
pub const NEIGHBOUR_CODE: &str = "11310106MB2F543212";
/// Every `NEIGHBOUR_EVERY`-th decision is the neighbour's.
const NEIGHBOUR_EVERY: usize = 12;
const PREFIXES: [&str; 12] = [
    "长风", "真如", "桃浦", "万里", "曹杨", "甘泉", "宜川", "石泉", "长征", "长寿", "武宁", "梅川",
];
/// Trades (行业) of the demo's party names (the load generator's seeder
/// starts from them too).
pub const TRADES: [&str; 10] = [
    "化工",
    "物流",
    "机械制造",
    "建材",
    "仓储",
    "食品",
    "印刷",
    "电子",
    "钢结构",
    "餐饮管理",
];
const VIOLATIONS: [(&str, &str, &str); 5] = [
    (
        "未按规定开展安全生产教育和培训",
        "《中华人民共和国安全生产法》第九十七条第三项",
        "未如实记录安全生产教育和培训情况",
    ),
    (
        "未按规定对重大危险源进行登记建档",
        "《中华人民共和国安全生产法》第一百零一条第二项",
        "未对重大危险源登记建档并定期检测、评估",
    ),
    (
        "未采取措施消除事故隐患",
        "《中华人民共和国安全生产法》第一百零二条",
        "对检查发现的事故隐患未及时采取措施消除",
    ),
    (
        "特种作业人员未持证上岗",
        "《中华人民共和国安全生产法》第九十七条第七项",
        "安排未取得相应资格的人员从事特种作业",
    ),
    (
        "未按规定配备安全生产管理人员",
        "《中华人民共和国安全生产法》第九十七条第一项",
        "未按照规定设置安全生产管理机构或者配备安全生产管理人员",
    ),
];

fn credit_code(prefix: &str, n: u64) -> Result<String, AppError> {
    let body = format!("{prefix}{:0width$}", n, width = 17 - prefix.len());
    let check = compute_check_char(&body).ok_or_else(|| AppError::Internal(format!("bad demo code body {body}")))?;
    Ok(format!("{body}{check}"))
}

fn set_day(clock: &ManualClock, d: NaiveDate, hour: i64) {
    clock.set(cst_midnight(d) + Duration::hours(hour));
}

/// Fills `app` (which must run on `clock`) with the demo history up to `today`.
pub async fn run(
    app: &Arc<App>,
    clock: &ManualClock,
    today: NaiveDate,
    enterprises: usize,
    seed: u64,
) -> Result<DemoSummary, AppError> {
    if !app.list_decisions(&Default::default(), "", 1).await?.is_empty() {
        return Err(AppError::precondition(
            "DATABASE_NOT_EMPTY",
            "database",
            "the demo fills an empty database; point --database-url at a new one",
        ));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut s = DemoSummary::default();

    set_day(clock, NaiveDate::from_ymd_opt(2022, 1, 1).unwrap_or(today), 9);
    let caller = |role: Role| async move {
        let key = app.create_key(role, &format!("demo {role}"), None, None).await?;
        let c = Caller {
            key_id: key.row.id.clone(),
            label: key.row.label.clone(),
            role,
            enterprise: None,
        };
        Ok::<_, AppError>((c, key.secret))
    };
    let (officer, officer_key) = caller(Role::Officer).await?;
    let (reviewer, reviewer_key) = caller(Role::LegalReviewer).await?;
    let (repairer, repairer_key) = caller(Role::RepairReviewer).await?;
    let (portal, portal_key) = caller(Role::Portal).await?;
    let (_, discloser_key) = caller(Role::Discloser).await?;
    let (_, auditor_key) = caller(Role::Auditor).await?;

    let parties: Vec<(String, String)> = (0..enterprises)
        .map(|i| {
            let code = credit_code("91310107", 10_000 + i as u64)?;
            let name = format!(
                "上海{}{}有限公司",
                PREFIXES[i % PREFIXES.len()],
                TRADES[(i / PREFIXES.len()) % TRADES.len()]
            );
            let name = if i >= PREFIXES.len() * TRADES.len() {
                name.replace("有限公司", &format!("第{}分公司", i))
            } else {
                name
            };
            Ok((code, name))
        })
        .collect::<Result<_, AppError>>()?;
    s.enterprises = parties.len();
    let enterprise_key = app
        .create_key(Role::Enterprise, "demo enterprise", Some(&parties[0].0), None)
        .await?;
    s.enterprise_code = parties[0].0.clone();

    // Decision dates spread from 2022-01 to a week before today.
    let start = NaiveDate::from_ymd_opt(2022, 1, 4).unwrap_or(today);
    let span = (today - start).num_days().max(30) - 7;
    let count = parties.len() * 3 / 2;
    let mut dates: Vec<NaiveDate> = (0..count)
        .map(|_| start + Duration::days(rng.random_range(0..span)))
        .collect();
    dates.sort();
    for (i, decided_on) in dates.into_iter().enumerate() {
        let party = &parties[if i < parties.len() {
            i
        } else {
            rng.random_range(0..parties.len())
        }];
        let (vtype, basis, facts) = VIOLATIONS[rng.random_range(0..VIOLATIONS.len())];
        let fine_yuan: i64 = [5_000, 10_000, 20_000, 30_000, 50_000, 80_000, 120_000][rng.random_range(0..7)];
        let simple = rng.random_bool(0.05);
        let warning_only = !simple && rng.random_bool(0.04);
        let severity = if rng.random_bool(0.12) {
            Severity::Serious
        } else if rng.random_bool(0.05) {
            Severity::Minor
        } else {
            Severity::General
        };
        let (authority, authority_code, abbreviation) = if i % NEIGHBOUR_EVERY == NEIGHBOUR_EVERY - 1 {
            (NEIGHBOUR, NEIGHBOUR_CODE, "静")
        } else {
            (AUTHORITY, AUTHORITY_CODE, "普")
        };
        let authority = Org {
            name: authority.into(),
            credit_code: authority_code.into(),
        };
        // The application's input, built directly: the demo's data is valid
        // by construction (tests/it/demo.rs checks what it recorded).
        let doc = DecisionDoc {
            decision_number: format!("{abbreviation}应急罚〔{}〕{}号", decided_on.year(), 100 + i),
            party: Party::legal_person(
                party.1.clone(),
                party.0.clone(),
                LegalRepresentative {
                    name: ["张伟", "王芳", "李强", "刘洋", "陈静", "杨磊"][i % 6].into(),
                    ..Default::default()
                },
                format!("上海市普陀区{}路{}号", PREFIXES[i % PREFIXES.len()], 1 + i % 999),
            ),
            violation_type: vtype.into(),
            violation_facts: format!("经查，该单位{facts}。以上事实有现场检查记录、询问笔录等证据证实。"),
            legal_basis: basis.into(),
            penalty_kinds: if warning_only {
                vec![PenaltyKind::Warning]
            } else {
                vec![PenaltyKind::Warning, PenaltyKind::Fine]
            },
            penalty_content: if warning_only {
                "警告".into()
            } else {
                format!("警告，并处罚款人民币{fine_yuan}元")
            },
            fine_fen: if warning_only { 0 } else { fine_yuan * 100 },
            confiscation_fen: 0,
            license_action: String::new(),
            procedure: if simple { Procedure::Simple } else { Procedure::Ordinary },
            sector: Sector::SafetyProduction,
            severity,
            major: false,
            major_flag: Some(false),
            decided_on,
            effective_until: None,
            data_source: authority.clone(),
            authority,
            remarks: String::new(),
        };
        set_day(clock, decided_on, 10);
        let row = app.create_decision(&officer, &format!("demo-{i}"), doc, None).await?;
        s.decisions += 1;
        if row.doc.major {
            set_day(clock, decided_on, 15);
            app.review_decision(
                &reviewer,
                &row.id,
                "",
                ReviewInput {
                    opinion: ReviewOpinion::Approve,
                    checklist: ReviewChecklist::all_satisfied(),
                    comment: "同意".into(),
                },
                None,
            )
            .await?;
        }
        // Deliver the bundle on the decision day, publish within a few days
        // (now and then late), record fulfilment about two weeks later.
        let bundle = app.notice_bundle(&officer, &row.id, 0).await?;
        let method = if rng.random_bool(0.1) {
            DeliveryMethod::Electronic
        } else {
            DeliveryMethod::Direct
        };
        if bundle.documents.len() > 1 || rng.random_bool(0.5) {
            app.record_delivery(
                &officer,
                &row.id,
                "",
                DeliveryInput {
                    method,
                    recipient: "委托代理人".into(),
                    recipient_relation: "当事人委托代理人".into(),
                    delivered_at: clock.now(),
                    consent_ref: if method == DeliveryMethod::Electronic {
                        "电子送达地址确认书".into()
                    } else {
                        String::new()
                    },
                    witnesses: vec![],
                },
                None,
            )
            .await?;
            s.delivered += 1;
        }
        let publish_day = decided_on
            + Duration::days(if rng.random_bool(0.08) {
                12
            } else {
                rng.random_range(1..6)
            });
        if publish_day > today {
            continue;
        }
        set_day(clock, publish_day, 11);
        let published = app.publish_decision(&officer, &row.id, "", None).await?;
        match published.state {
            DecisionState::Published => s.published += 1,
            _ => {
                s.not_published += 1;
                continue;
            }
        }
        let fulfilled_on = decided_on + Duration::days(rng.random_range(5..25));
        if fulfilled_on < today && rng.random_bool(0.8) {
            set_day(clock, fulfilled_on, 14);
            app.record_fulfillment(
                &officer,
                &row.id,
                "",
                fulfilled_on,
                "罚款已缴纳，银行缴款凭证在卷",
                None,
            )
            .await?;
        }
        let Some(disclosure_id) = published.disclosure_id.clone() else {
            continue;
        };
        let roll: f64 = rng.random();
        if roll < 0.06 {
            let day = publish_day + Duration::days(rng.random_range(10..60));
            if day < today {
                set_day(clock, day, 16);
                app.correct_decision(
                    &officer,
                    &row.id,
                    "",
                    crate::app::CorrectionPatch {
                        apply: Box::new(|current| {
                            let mut doc = current.clone();
                            doc.violation_facts.push_str("（经复核更正）");
                            Ok(doc)
                        }),
                        reason: "更正违法事实表述".into(),
                        paths: vec!["violation_facts".into()],
                    },
                    None,
                )
                .await?;
                s.corrected += 1;
            }
        } else if roll < 0.10 {
            let day = publish_day + Duration::days(rng.random_range(20..90));
            if day < today {
                set_day(clock, day, 16);
                app.withdraw_decision(
                    &officer,
                    &row.id,
                    "",
                    WithdrawalEvent::Revoked,
                    Some(day - Duration::days(1)),
                    "经行政复议，原处罚决定被撤销",
                    None,
                )
                .await?;
                s.withdrawn += 1;
            }
        } else if roll < 0.45 && party.0 != s.enterprise_code {
            // Credit repair once eligible: most approved, some still open.
            let Some(d) = app.get_disclosure(&disclosure_id).await? else {
                continue;
            };
            let apply_on = d.content.repair_eligible_on + Duration::days(rng.random_range(0..40));
            let in_calendar = apply_on.year() >= 2023 && apply_on + Duration::days(20) < today;
            if !in_calendar || d.content.publicity_ends_on < apply_on {
                continue;
            }
            set_day(clock, apply_on, 10);
            let acting = Caller {
                enterprise: Some(party.0.clone()),
                ..portal.clone()
            };
            let e = app.check_eligibility(&acting, &disclosure_id).await?;
            if !e.unmet.is_empty() {
                continue;
            }
            let application = app
                .submit_repair(
                    &acting,
                    &format!("demo-repair-{i}"),
                    SubmitInput {
                        disclosure_id: disclosure_id.clone(),
                        applicant_name: party.1.clone(),
                        contact: Contact {
                            name: "联系人".into(),
                            phone: "021-5000 0000".into(),
                        },
                        commitment: Some(Commitment {
                            code: String::new(),
                            committer_name: party.1.clone(),
                            committer_code: party.0.clone(),
                            reason: "申请信用修复".into(),
                            content: "本单位承诺所提交材料真实有效，已全部履行行政处罚决定规定的义务。".into(),
                            liability: "如违反承诺，自愿接受按最长公示期恢复公示等处理。".into(),
                            made_on: apply_on,
                            signer: "法定代表人".into(),
                            fulfillment_status: CommitmentFulfillment::Full,
                        }),
                        materials: vec![Upload {
                            kind: MaterialKind::FulfillmentProof,
                            file_name: "罚款缴纳凭证.pdf".into(),
                            media_type: "application/pdf".into(),
                            content: format!("%PDF-1.4 demo receipt {i}").into_bytes(),
                        }],
                    },
                )
                .await?;
            if apply_on + Duration::days(30) > today || rng.random_bool(0.15) {
                s.under_repair += 1;
                continue;
            }
            set_day(clock, apply_on + Duration::days(1), 10);
            app.transition_repair(&repairer, &application.id, "", RepairAction::Accept, "", vec![], None)
                .await?;
            set_day(clock, apply_on + Duration::days(2), 15);
            app.transition_repair(
                &repairer,
                &application.id,
                "",
                RepairAction::Approve,
                "材料齐全，符合修复条件",
                vec![],
                None,
            )
            .await?;
            s.repaired += 1;
        }
    }
    set_day(clock, today, 9);
    s.expired = app.expire_due().await?;
    s.keys = vec![
        (Role::Officer, officer_key),
        (Role::LegalReviewer, reviewer_key),
        (Role::RepairReviewer, repairer_key),
        (Role::Portal, portal_key),
        (Role::Enterprise, enterprise_key.secret),
        (Role::Discloser, discloser_key),
        (Role::Auditor, auditor_key),
    ];
    Ok(s)
}

/// The copy-paste first call README shows: list active disclosures through
/// reflection with `buf curl` (buf is on npm: `npm install -g @bufbuild/buf`).
pub fn first_call(listen: &str, discloser_key: &str) -> String {
    format!(
        "buf curl --protocol grpc --http2-prior-knowledge -H 'authorization: Bearer {discloser_key}' \
         -d '{{\"page_size\": 3}}' http://{listen}/gongshi.v1.DisclosureService/ListDisclosures"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::CreditCode;

    #[test]
    fn demo_authority_codes_are_valid() {
        for code in [AUTHORITY_CODE, NEIGHBOUR_CODE] {
            assert_eq!(
                CreditCode::parse(code).map(|c| c.as_str().to_string()).ok(),
                Some(code.to_string())
            );
        }
        // 310107 is 普陀区's division code, 310106 静安区's.
        assert_eq!(&AUTHORITY_CODE[2..8], "310107");
        assert_eq!(&NEIGHBOUR_CODE[2..8], "310106");
    }
}
