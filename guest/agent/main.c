/*
 * aegis-agent: PID 1 of every Aegis VM. It builds the root file system,
 * brings up the network, then serves the host over the control channel
 * (docs/protocol.md) until the workload exits or the host asks for a
 * shutdown, and powers the VM off. PID 1 must never exit or crash (the
 * kernel would panic): every failure is reported and the VM powered off
 * in power_off(), the one way out.
 */
#define _GNU_SOURCE
#include "agent.h"
#include "diag.h"
#include "handlers.h"
#include "lease.h"
#include "mounts.h"
#include "net.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* docs/protocol.md, "The workload": how long EXIT may take to leave. */
#define EXIT_FLUSH_MS 5000
/* After SIGKILL at the end of a shutdown, for EXITs and the queue. */
#define SHUTDOWN_FLUSH_MS 2000

static const int forwarded_signals[] = {
	SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2,
};

/*
 * Syncs and powers off. With ACPI off, RB_POWER_OFF only halts the CPU;
 * RB_AUTOBOOT makes QEMU, which runs with -no-reboot, exit with status 0.
 */
static void __attribute__((noreturn)) power_off(const char *why)
{
	diag("powering off: %s", why);
	kill(-1, SIGKILL);
	sync();
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

/* Makes fds 0-2 valid, so that no pipe or port ever lands on them. */
static void fill_std_fds(void)
{
	int fd;

	do
		fd = open("/dev/null", O_RDWR);
	while (fd >= 0 && fd <= 2);
	if (fd > 2)
		close(fd);
}

static int open_signalfd(void)
{
	sigset_t mask;
	size_t i;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	for (i = 0; i < sizeof(forwarded_signals) / sizeof(int); i++)
		sigaddset(&mask, forwarded_signals[i]);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	/* Writes to a pipe whose reader died must fail, not kill. */
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void boot(struct agent *agent)
{
	if (mounts_early() < 0)
		power_off("the pseudo file systems could not be mounted");
	fill_std_fds();
	diag_open_console();
	agent->signal_fd = open_signalfd();
	if (agent->signal_fd < 0)
		power_off("signalfd failed");
	config_load(&agent->config);
	if (agent->config.debug)
		diag_enable_debug();
	mounts_load_modules();

	if (mounts_enter_root(&agent->config) < 0)
		power_off("the root file system could not be built");
	agent->root_ready_ns = clock_boot_ns();
	net_setup(agent->config.ip_cidr, agent->config.gateway);
	if (agent->config.dns[0] != '\0')
		net_write_resolv_conf(agent->config.dns);

	lease_open(clock_mono_ms());

	if (channel_open(&agent->channel, handle_frame, agent) < 0)
		power_off("no control channel");
	debug("ready %lld ms after boot",
	      (long long)(clock_boot_ns() - agent->boot_ns) / 1000000);
}

void pollset_add(struct pollset *set, int fd, short events,
		 enum poll_owner_kind kind, int slot, int which)
{
	struct poll_owner owner = { kind, slot, which };

	if (set->count == POLLSET_MAX)
		return; /* cannot happen: sized for every slot's fds */
	set->fds[set->count].fd = fd;
	set->fds[set->count].events = events;
	set->fds[set->count].revents = 0;
	set->owners[set->count] = owner;
	set->count++;
}

void agent_workload_exited(struct agent *agent)
{
	agent->workload = WORKLOAD_EXITED;
	if (agent->phase != PHASE_RUN)
		return;
	agent->phase = PHASE_FLUSH;
	agent->phase_deadline_ms = clock_mono_ms() + EXIT_FLUSH_MS;
	agent->flush_waits_for_streams = 0;
	agent->stop_reason = "the workload exited";
}

void agent_begin_shutdown(struct agent *agent, int64_t grace_ms)
{
	if (agent->phase != PHASE_RUN)
		return;
	diag("shutdown requested, grace %lld ms", (long long)grace_ms);
	kill(-1, SIGTERM);
	agent->phase = PHASE_GRACE;
	agent->phase_deadline_ms = clock_mono_ms() + grace_ms;
	agent->stop_reason = "shutdown requested";
	proc_reap(agent);
}

static void forward_signal(struct agent *agent, int signal_number)
{
	if (agent->workload == WORKLOAD_RUNNING)
		proc_signal(0, signal_number);
}

static void read_signals(struct agent *agent)
{
	struct signalfd_siginfo info;

	while (read(agent->signal_fd, &info, sizeof(info)) ==
	       (ssize_t)sizeof(info))
		if (info.ssi_signo != SIGCHLD)
			forward_signal(agent, (int)info.ssi_signo);
	proc_reap(agent);
}

static void advance_phase(struct agent *agent, int64_t now_ms)
{
	int timed_out = now_ms >= agent->phase_deadline_ms;

	if (agent->phase == PHASE_GRACE &&
	    (!agent->children_left || timed_out)) {
		if (agent->children_left)
			kill(-1, SIGKILL);
		agent->phase = PHASE_FLUSH;
		agent->phase_deadline_ms = now_ms + SHUTDOWN_FLUSH_MS;
		agent->flush_waits_for_streams = 1;
	} else if (agent->phase == PHASE_FLUSH) {
		int streams_done = !agent->flush_waits_for_streams ||
				   proc_open_count() == 0;

		if (timed_out)
			power_off("gave up waiting for the host to read");
		if (streams_done &&
		    channel_pending_bytes(&agent->channel) == 0)
			power_off(agent->stop_reason);
	}
}

static void build_pollset(struct agent *agent, struct pollset *set)
{
	set->count = 0;
	pollset_add(set, agent->signal_fd, POLLIN, OWNER_SIGNALS, 0, 0);
	if (channel_wants_poll(&agent->channel))
		pollset_add(set, agent->channel.fd,
			    channel_poll_events(&agent->channel), OWNER_PORT,
			    0, 0);
	if (lease_fd() >= 0)
		pollset_add(set, lease_fd(), POLLIN, OWNER_LEASES, 0, 0);
	proc_add_pollfds(agent, set);
}

static int poll_timeout_ms(const struct agent *agent, int64_t now_ms,
			   int64_t tick_deadline_ms)
{
	int64_t deadline_ms = tick_deadline_ms;

	if (!agent->channel.connected &&
	    agent->channel.next_check_ms < deadline_ms)
		deadline_ms = agent->channel.next_check_ms;
	if (agent->phase != PHASE_RUN &&
	    agent->phase_deadline_ms < deadline_ms)
		deadline_ms = agent->phase_deadline_ms;
	if (deadline_ms == INT64_MAX)
		return -1;
	if (deadline_ms <= now_ms)
		return 0;
	return deadline_ms - now_ms > 60000 ? 60000
					    : (int)(deadline_ms - now_ms);
}

static void dispatch(struct agent *agent, struct pollset *set)
{
	int64_t now_ms = clock_mono_ms();
	int i;

	for (i = 0; i < set->count; i++) {
		const struct pollfd *fd = &set->fds[i];
		const struct poll_owner *owner = &set->owners[i];

		if (fd->revents == 0)
			continue;
		if (owner->kind == OWNER_SIGNALS)
			read_signals(agent);
		else if (owner->kind == OWNER_PORT)
			channel_on_events(&agent->channel, fd->revents, now_ms);
		else if (owner->kind == OWNER_LEASES)
			lease_on_events(now_ms);
		else if (owner->kind == OWNER_OUTPUT)
			proc_on_output(agent, owner->slot, owner->which,
				       fd->fd);
		else
			proc_on_input(agent, owner->slot, fd->fd);
	}
}

static void __attribute__((noreturn)) serve(struct agent *agent)
{
	static struct pollset set;

	for (;;) {
		int64_t now_ms = clock_mono_ms();
		int64_t deadline_ms;
		int64_t lease_deadline_ms;
		int timeout_ms;

		channel_check_connection(&agent->channel, now_ms);
		deadline_ms = proc_tick(agent, now_ms);
		lease_deadline_ms = lease_tick(&agent->channel, now_ms);
		if (lease_deadline_ms < deadline_ms)
			deadline_ms = lease_deadline_ms;
		channel_flush(&agent->channel);
		advance_phase(agent, now_ms);

		build_pollset(agent, &set);
		timeout_ms = poll_timeout_ms(agent, now_ms, deadline_ms);
		if (poll(set.fds, (nfds_t)set.count, timeout_ms) < 0) {
			if (errno != EINTR)
				diag("poll: %s", strerror(errno));
			continue;
		}
		dispatch(agent, &set);
		channel_flush(&agent->channel);
	}
}

int main(void)
{
	static struct agent agent;

	agent.boot_ns = clock_boot_ns();
	boot(&agent);
	serve(&agent);
}
