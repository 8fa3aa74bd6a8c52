//! JSON for machines: stable snake_case keys, ISO dates, levels as numbers (or "N/A", "?"),
//! names and notes in the chosen language.

use serde_json::{json, Map, Value as Json};
use vigie_matrix::catalogue::catalogue;
use vigie_matrix::grade::Basis;

use super::{marking, t, ExportError};
use crate::matrix::{Matrix, View};

/// The schema id of the JSON export; bump on an incompatible change.
pub const SCHEMA: &str = "vigie.matrix.v1";

/// What set a cell: `{"check", "target", "status", "findings"}` per verdict (`findings`:
/// the relative link of its findings page), `{"question"}` per answer.
fn basis_json(org: &str, basis: &[Basis]) -> Vec<Json> {
    basis
        .iter()
        .map(|b| {
            let mut item = json!(b);
            if let Some(link) = super::findings_link(org, b) {
                item["findings"] = json!(link);
            }
            item
        })
        .collect()
}

pub(super) fn render(matrix: &Matrix) -> Result<Vec<u8>, ExportError> {
    let lang = matrix.lang;
    let capabilities: Vec<Json> = catalogue()
        .capabilities
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.name(lang),
                "description": c.description(lang),
                "kind": c.kind,
                "kind_name": t(lang, c.kind.text_key()),
                "csf_function": c.csf_function,
                "critical": c.critical,
                "feeds": c.feeds,
                "questions": c.questions,
                "mappings": {
                    "cccs_bc": c.bc,
                    "cis_v8": c.cis,
                    "cis_implementation_group": c.cis_implementation_group(),
                    "nist_csf_2": c.csf,
                    "cisa_cpg": c.cpg,
                },
                "levels": (0..=4).map(|l| c.level_rule(lang, l)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let aggregate: Vec<Json> = matrix
        .aggregate
        .iter()
        .map(|row| {
            json!({
                "capability": row.capability,
                "median": row.median,
                "at_baseline": row.at_baseline,
                "known": row.known,
                "unknown": row.unknown,
                "share_at_baseline": row.share_at_baseline(),
                "previous_median": row.previous_median,
                "trend": row.trend,
            })
        })
        .collect();
    let mut root = json!({
        "schema": SCHEMA,
        "rules_version": matrix.rules_version,
        "tls_profile": matrix.profile.as_str(),
        "view": matrix.view.as_str(),
        "lang": lang.as_str(),
        "generated_at": matrix.generated_at,
        "since": matrix.since,
        "marking": marking(matrix),
        "frameworks": catalogue().frameworks,
        "capabilities": capabilities,
        "aggregate": aggregate,
    });
    let quarters: Vec<Json> = matrix
        .quarters
        .iter()
        .map(|q| {
            let medians: Map<String, Json> = catalogue()
                .capabilities
                .iter()
                .zip(&q.medians)
                .map(|(c, m)| (c.id.clone(), json!(m)))
                .collect();
            let mut quarter = json!({"last_day": q.last_day, "medians": medians});
            if matrix.view == View::Org {
                let orgs: Map<String, Json> = q
                    .orgs
                    .iter()
                    .map(|(org, values)| {
                        let levels: Map<String, Json> = catalogue()
                            .capabilities
                            .iter()
                            .zip(values)
                            .map(|(c, v)| (c.id.clone(), json!(v)))
                            .collect();
                        (org.clone(), Json::Object(levels))
                    })
                    .collect();
                quarter["orgs"] = Json::Object(orgs);
            }
            quarter
        })
        .collect();
    root["quarters"] = Json::Array(quarters);
    if let Some(by) = matrix.group_by {
        let groups: Vec<Json> = matrix
            .groups
            .iter()
            .map(|g| {
                let capabilities: serde_json::Map<String, Json> = catalogue()
                    .capabilities
                    .iter()
                    .zip(&g.cells)
                    .map(|(c, cell)| {
                        (
                            c.id.clone(),
                            json!({
                                "median": cell.median,
                                "at_baseline": cell.at_baseline,
                                "known": cell.known,
                                "share_at_baseline": cell.share_at_baseline(),
                            }),
                        )
                    })
                    .collect();
                json!({
                    "key": g.key,
                    "label": super::group_label(matrix, g),
                    "orgs": g.orgs,
                    "capabilities": capabilities,
                })
            })
            .collect();
        root["group_by"] = json!(by.as_str());
        root["groups"] = Json::Array(groups);
    }
    if matrix.view == View::Org {
        let orgs: Vec<Json> = matrix
            .orgs
            .iter()
            .map(|org| {
                let (met, known) = org.baseline_attainment();
                let cells: Vec<Json> = org
                    .cells
                    .iter()
                    .zip(&org.previous)
                    .zip(&org.trends)
                    .map(|((cell, previous), trend)| {
                        json!({
                            "capability": cell.capability,
                            "level": cell.value,
                            "label": cell.label(),
                            "source": cell.source,
                            "trend": trend,
                            "previous_level": previous,
                            "coverage": cell.coverage,
                            "stale": cell.stale,
                            "observed_at": cell.observed_at,
                            "answered_on": cell.answered_on,
                            "evidence": cell.evidence,
                            "notes": cell.notes.iter().map(|n| n.render(lang)).collect::<Vec<_>>(),
                            "basis": basis_json(&org.org, &cell.basis),
                        })
                    })
                    .collect();
                json!({
                    "org": org.org,
                    "assessed_on": org.assessed_on,
                    "baseline_attainment": {"met": met, "known": known},
                    "weakest_critical": org.weakest_critical().map(|(level, ids)| json!({"level": level, "capabilities": ids})),
                    "cells": cells,
                })
            })
            .collect();
        root["orgs"] = Json::Array(orgs);
    }
    let mut out = serde_json::to_vec_pretty(&root)?;
    out.push(b'\n');
    Ok(out)
}
