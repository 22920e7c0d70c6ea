//! The proto3 JSON mapping of the gRPC messages, by reflection over the
//! service's own descriptors (`prost-reflect`), so the JSON is generated from
//! the contract and cannot drift from it: lowerCamelCase names, enums by
//! name, 64-bit integers as strings, timestamps in RFC 3339, default values
//! left out — what `buf curl` or grpc-gateway print.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

use crate::app::AppError;

fn pool() -> Result<&'static DescriptorPool, AppError> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(crate::api::FILE_DESCRIPTOR_SET).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| AppError::Internal(format!("descriptor pool: {e}")))
}

/// `msg` (the protobuf message named `full_name`, e.g.
/// `gongshi.v1.Disclosure`) as proto3 JSON.
pub fn to_json<M: prost::Message>(msg: &M, full_name: &str) -> Result<Vec<u8>, AppError> {
    let desc = pool()?
        .get_message_by_name(full_name)
        .ok_or_else(|| AppError::Internal(format!("no message {full_name} in the descriptors")))?;
    let dynamic = DynamicMessage::decode(desc, msg.encode_to_vec().as_slice())
        .map_err(|e| AppError::Internal(format!("{full_name} does not decode by reflection: {e}")))?;
    let mut out = serde_json::Serializer::new(Vec::with_capacity(1024));
    dynamic
        .serialize_with_options(&mut out, &SerializeOptions::new())
        .map_err(|e| AppError::Internal(format!("{full_name} as JSON: {e}")))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::pb;

    #[test]
    fn messages_map_to_proto3_json() {
        let d = pb::Disclosure {
            name: "disclosures/01J".into(),
            party_name: "上海浦江化工有限公司".into(),
            fine_fen: 2_000_000,
            state: pb::DisclosureState::Active as i32,
            published_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            ..Default::default()
        };
        let v: serde_json::Value = serde_json::from_slice(&to_json(&d, "gongshi.v1.Disclosure").unwrap()).unwrap();
        assert_eq!(v["partyName"], "上海浦江化工有限公司");
        assert_eq!(v["fineFen"], "2000000");
        assert_eq!(v["state"], "DISCLOSURE_STATE_ACTIVE");
        assert_eq!(v["publishedAt"], "2023-11-14T22:13:20Z");
        assert!(v.get("remarks").is_none(), "defaults are left out: {v}");
        assert!(to_json(&d, "gongshi.v1.NoSuchMessage").is_err());
    }
}
