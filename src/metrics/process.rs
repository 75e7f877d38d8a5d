//! The standard `process_*` series (CPU seconds, resident and virtual
//! memory, open and maximum file descriptors, threads, start time), read
//! from `/proc/self` on each scrape by the `prometheus` crate's process
//! collector, the same names every Prometheus client library exposes.
//! Elsewhere than Linux there is no `/proc`: nothing is rendered.

/// The collector of this process.
#[derive(Default)]
pub(super) struct Process {
    #[cfg(target_os = "linux")]
    collector: linux::Collector,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Process")
    }
}

impl Process {
    /// The `process_*` families in the text format; empty if `/proc` cannot
    /// be read (the scrape still serves acsync's own series).
    pub(super) fn render(&self) -> String {
        #[cfg(target_os = "linux")]
        return self.collector.render();
        #[cfg(not(target_os = "linux"))]
        String::new()
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use prometheus::core::Collector as _;
    use prometheus::process_collector::ProcessCollector;
    use prometheus::{Encoder, TextEncoder};

    pub(super) struct Collector(ProcessCollector);

    impl Default for Collector {
        fn default() -> Self {
            Collector(ProcessCollector::for_self())
        }
    }

    impl Collector {
        pub(super) fn render(&self) -> String {
            let families = self.0.collect();
            let mut buf = Vec::new();
            if TextEncoder::new().encode(&families, &mut buf).is_err() {
                return String::new();
            }
            String::from_utf8(buf).unwrap_or_default()
        }
    }
}
