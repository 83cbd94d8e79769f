#include "process.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "timing.hpp"

namespace bench {
namespace {

// user + nice + system + irq + softirq + steal of all cores, in seconds; -1 if unreadable.
double machine_busy_s() {
    std::ifstream stat("/proc/stat");
    std::string cpu;
    double user, nice, system, idle, iowait, irq, softirq, steal;
    if (!(stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal))
        return -1;
    return (user + nice + system + irq + softirq + steal) /
           static_cast<double>(sysconf(_SC_CLK_TCK));
}

double own_cpu_s() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

double peak_rss_mib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

bool reset_peak_rss() {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";  // 5: reset the peak resident set size
    clear.flush();
    return static_cast<bool>(clear);
}

double recent_peak_rss_mib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
    return -1;
}

long page_faults() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt + usage.ru_majflt;
}

CpuWindow::CpuWindow()
    : machine_busy_s_(machine_busy_s()), own_s_(own_cpu_s()), wall_ms_(now_ms()) {}

double CpuWindow::foreign_cores() const {
    const double busy = machine_busy_s();
    const double wall_s = (now_ms() - wall_ms_) / 1000.0;
    if (busy < 0 || machine_busy_s_ < 0 || wall_s <= 0) return -1;
    const double foreign = (busy - machine_busy_s_) - (own_cpu_s() - own_s_);
    return foreign > 0 ? foreign / wall_s : 0.0;
}

}  // namespace bench
