//! The OTLP metrics messages and `google.rpc.Status`, generated at build time from the
//! vendored `proto/` files, and the descriptor pool the JSON decoder reads them through.
#![allow(missing_docs, dead_code, clippy::all, clippy::pedantic)]

use std::sync::LazyLock;

use prost_reflect::DescriptorPool;

pub(crate) mod opentelemetry {
    pub(crate) mod proto {
        pub(crate) mod collector {
            pub(crate) mod metrics {
                pub(crate) mod v1 {
                    include!(concat!(env!("OUT_DIR"), "/opentelemetry.proto.collector.metrics.v1.rs"));
                }
            }
        }
        pub(crate) mod common {
            pub(crate) mod v1 {
                include!(concat!(env!("OUT_DIR"), "/opentelemetry.proto.common.v1.rs"));
            }
        }
        pub(crate) mod metrics {
            pub(crate) mod v1 {
                include!(concat!(env!("OUT_DIR"), "/opentelemetry.proto.metrics.v1.rs"));
            }
        }
        pub(crate) mod resource {
            pub(crate) mod v1 {
                include!(concat!(env!("OUT_DIR"), "/opentelemetry.proto.resource.v1.rs"));
            }
        }
    }
}

pub(crate) mod google {
    pub(crate) mod rpc {
        include!(concat!(env!("OUT_DIR"), "/google.rpc.rs"));
    }
}

pub(crate) use google::rpc::Status;
pub(crate) use opentelemetry::proto::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
pub(crate) use opentelemetry::proto::common::v1::{AnyValue, KeyValue, any_value};
pub(crate) use opentelemetry::proto::metrics::v1::{
    AggregationTemporality, ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint,
    SummaryDataPoint, exponential_histogram_data_point, metric, number_data_point,
};

/// Every message of the vendored files, as the build compiled them.
static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(&include_bytes!(concat!(env!("OUT_DIR"), "/otlp_descriptors.bin"))[..])
        .expect("the build wrote a valid descriptor set")
});

/// The descriptor of the message named `name` (fully qualified), for the JSON mapping.
pub(crate) fn descriptor(name: &str) -> prost_reflect::MessageDescriptor {
    POOL.get_message_by_name(name).expect("the message is in the vendored files")
}
