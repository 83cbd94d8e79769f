// What the process and the machine did around a measurement: peak memory, and the CPU time that
// other processes took (the machine is shared; every figure is annotated with it).
#pragma once

namespace bench {

// Peak resident set size of the process so far (getrusage ru_maxrss), in MiB.
double peak_rss_mib();
// Starts a new peak (Linux: /proc/self/clear_refs) for recent_peak_rss_mib(). False when the
// kernel refuses. ru_maxrss is not reset: it also keeps the peak of exited threads.
bool reset_peak_rss();
// Peak resident set size since the last reset_peak_rss() (VmHWM), in MiB; negative if unknown.
double recent_peak_rss_mib();

// Minor plus major page faults of the process so far (getrusage). Fresh memory from the kernel
// costs one fault per 4 KiB page touched.
long page_faults();

// Cores that other processes (and the hypervisor, as steal time) kept busy between construction
// and foreign_cores(): machine-wide busy time from /proc/stat minus this process's CPU time, per
// wall second. Negative when /proc/stat is unreadable.
class CpuWindow {
  public:
    CpuWindow();
    double foreign_cores() const;

  private:
    double machine_busy_s_;
    double own_s_;
    double wall_ms_;
};

}  // namespace bench
