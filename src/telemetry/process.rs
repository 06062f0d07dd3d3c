//! The `process_*` metrics every Prometheus client exposes, read from `/proc/self` only.
//!
//! The `prometheus` crate's collector reads the boot time from `/proc/stat`, which the shipped
//! systemd unit hides (`ProcSubset=pid`), so `process_start_time_seconds` was 0 there; and it
//! counts CPU time in whole seconds. Here the boot time comes from the clocks
//! (`CLOCK_REALTIME` − `CLOCK_BOOTTIME`, the clock `/proc/self/stat`'s start time counts in),
//! and CPU time is kept to the clock tick, as the Go client does.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Counter, Gauge, IntGauge, Opts};
use rustix::time::{ClockId, clock_gettime};

/// The process's own metrics, read at each scrape.
#[derive(Debug)]
pub struct ProcessMetrics {
    cpu: Counter,
    open_fds: IntGauge,
    max_fds: IntGauge,
    virtual_memory: IntGauge,
    resident_memory: IntGauge,
    start_time: Gauge,
    threads: IntGauge,
    descs: Vec<Desc>,
}

impl ProcessMetrics {
    pub fn new() -> Self {
        let int = |name: &str, help: &str| {
            IntGauge::with_opts(Opts::new(name, help)).expect("valid gauge")
        };
        let metrics = Self {
            cpu: Counter::with_opts(Opts::new(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
            ))
            .expect("valid counter"),
            open_fds: int("process_open_fds", "Number of open file descriptors."),
            max_fds: int(
                "process_max_fds",
                "Maximum number of open file descriptors.",
            ),
            virtual_memory: int(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
            ),
            resident_memory: int(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
            ),
            start_time: Gauge::with_opts(Opts::new(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
            ))
            .expect("valid gauge"),
            threads: int("process_threads", "Number of OS threads in the process."),
            descs: Vec::new(),
        };
        let descs = metrics
            .collectors()
            .iter()
            .flat_map(|c| c.desc().into_iter().cloned())
            .collect();
        Self { descs, ..metrics }
    }

    fn collectors(&self) -> [&dyn Collector; 7] {
        [
            &self.cpu,
            &self.open_fds,
            &self.max_fds,
            &self.virtual_memory,
            &self.resident_memory,
            &self.start_time,
            &self.threads,
        ]
    }

    /// Reads `/proc/self` into the metrics; what cannot be read keeps its last value.
    fn update(&self) {
        let Ok(me) = procfs::process::Process::myself() else {
            return;
        };
        let ticks = procfs::ticks_per_second() as f64;
        if let Ok(stat) = me.stat() {
            // A counter only goes up; the kernel's figure does too.
            let cpu = (stat.utime + stat.stime) as f64 / ticks;
            let seen = self.cpu.get();
            if cpu > seen {
                self.cpu.inc_by(cpu - seen);
            }
            self.threads.set(stat.num_threads);
            self.virtual_memory
                .set(i64::try_from(stat.vsize).unwrap_or(i64::MAX));
            let rss = stat.rss.saturating_mul(procfs::page_size());
            self.resident_memory
                .set(i64::try_from(rss).unwrap_or(i64::MAX));
            self.start_time
                .set(boot_time() + stat.starttime as f64 / ticks);
        }
        if let Ok(fds) = me.fd_count() {
            self.open_fds.set(i64::try_from(fds).unwrap_or(i64::MAX));
        }
        if let Ok(limits) = me.limits() {
            let max = match limits.max_open_files.soft_limit {
                procfs::process::LimitValue::Value(n) => i64::try_from(n).unwrap_or(i64::MAX),
                procfs::process::LimitValue::Unlimited => i64::MAX,
            };
            self.max_fds.set(max);
        }
    }
}

impl Default for ProcessMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Collector for ProcessMetrics {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.update();
        self.collectors().iter().flat_map(|c| c.collect()).collect()
    }
}

/// The boot time, seconds since the epoch: the wall clock less the time since boot.
fn boot_time() -> f64 {
    let seconds = |t: rustix::time::Timespec| t.tv_sec as f64 + t.tv_nsec as f64 / 1e9;
    seconds(clock_gettime(ClockId::Realtime)) - seconds(clock_gettime(ClockId::Boottime))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This process started after boot and before now, and has used some CPU.
    #[test]
    fn start_time_and_cpu_are_plausible() {
        let metrics = ProcessMetrics::new();
        metrics.update();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = metrics.start_time.get();
        assert!(
            start > now - 3600.0 && start <= now + 1.0,
            "{start} vs {now}"
        );
        assert!(metrics.cpu.get() > 0.0);
        assert!(metrics.open_fds.get() > 0 && metrics.max_fds.get() > 0);
    }
}
