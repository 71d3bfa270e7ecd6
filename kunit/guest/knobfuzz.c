// SPDX-License-Identifier: GPL-2.0
/*
 * knobfuzz SEED WRITES DIR [fail]: random writes to the sysfs knobs of one test
 * device (DIR, e.g. /sys/devices/virtual/misc/test_kmod0), interleaved with
 * reads, for kunit/guest/campaign.sh.  Built statically on the host by
 * kunit/campaign; one process per device.
 *
 * Each write is one write(2) of 0 to 8192 bytes: random bytes (NUL and
 * bytes that are not UTF-8 included), numbers with signs, overflows,
 * leading zeros, whitespace and a leading '+', or names.  For every write
 * it checks, against what the C driver's parsing (kstrtouint/kstrtoint,
 * kstrndup) gives:
 *   - the write returns its length, or an errno documented for that knob
 *     (numbers: EINVAL, ERANGE; every knob: ENOMEM when the kernel is out
 *     of memory, or fault injection says so); sysfs passes at most a page
 *     of a longer write to the knob, and the write returns that length;
 *   - an accepted value reads back as C shows it;
 *   - after a rejected write, `config` and the knob read exactly as before;
 *   - every read parses.
 * Now and then it sets up a small run and triggers it (at most 16 threads).
 * With "fail" it marks itself make-it-fail (Documentation/fault-injection/)
 * once its files are open, so that injected failures hit its writes.
 * Prints one summary line ("FUZZ ...") and each violation ("VIOLATION ...");
 * exits 1 if there was any violation.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE 4096
#define MAX_WRITE (2 * PAGE)
#define MAX_THREADS (1u << 22)

static const char *dir;
static uint64_t rng;
static unsigned long violations, reads, rejected, enomem;
static ssize_t last; /* What the last write returned. */

static uint64_t next(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static unsigned int below(unsigned int n)
{
	return n ? next() % n : 0;
}

static void violation(const char *knob, const char *what, const unsigned char *buf, size_t len)
{
	size_t i;

	violations++;
	if (violations > 20)
		return;
	printf("VIOLATION %s/%s: %s (write gave %zd); input (%zu bytes):", dir, knob, what, last, len);
	for (i = 0; i < len && i < 48; i++)
		printf(" %02x", buf[i]);
	printf("%s\n", len > 48 ? " ..." : "");
}

/* The knobs' files, opened once: reads and writes go to offset 0. */
static struct knob {
	const char *name;
	int opened, rfd, wfd;
} knobs[] = {
	{ .name = "config" },		  { .name = "config_num_threads" },
	{ .name = "config_test_case" }, { .name = "config_test_driver" },
	{ .name = "config_test_fs" },	  { .name = "reset" },
	{ .name = "test_result" },	  { .name = "trigger_config" },
};

static struct knob *knob(const char *name)
{
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(knobs) / sizeof(*knobs); i++) {
		if (strcmp(knobs[i].name, name))
			continue;
		if (!knobs[i].opened) {
			snprintf(path, sizeof(path), "%s/%s", dir, name);
			knobs[i].rfd = open(path, O_RDONLY);
			knobs[i].wfd = open(path, O_WRONLY);
			knobs[i].opened = 1;
		}
		return &knobs[i];
	}
	abort();
}

/* Reads a knob into buf (NUL-terminated); returns its length or -errno. */
static ssize_t get(const char *name, char *buf)
{
	int fd = knob(name)->rfd;
	ssize_t n = fd < 0 ? -EBADF : pread(fd, buf, PAGE, 0);

	if (n < 0)
		n = -errno;
	buf[n < 0 ? 0 : n] = 0;
	reads++;
	return n;
}

/* Writes len bytes of buf to a knob in one write(2); returns its result. */
static ssize_t put(const char *name, const void *buf, size_t len)
{
	int fd = knob(name)->wfd;
	ssize_t n = fd < 0 ? -EBADF : pwrite(fd, buf, len, 0);

	last = n < 0 ? -errno : n;
	if (n < 0) {
		n = -errno;
		rejected++;
		enomem += n == -ENOMEM;
	}
	return n;
}

/*
 * The C driver's parse of a decimal knob: kstrtoull's rules on the bytes
 * up to the first NUL (an optional '+', or '-' when signed, digits, one
 * optional '\n'), overflow first.  Returns 0 and the value, or -errno.
 */
static int c_parse(const unsigned char *buf, size_t len, int is_signed, long long *value)
{
	size_t i = 0, end = strnlen((const char *)buf, len);
	unsigned long long v = 0;
	int neg = 0, digits = 0, overflow = 0;

	if (is_signed && i < end && buf[i] == '-') {
		neg = 1;
		i++;
	} else if (i < end && buf[i] == '+') {
		i++;
	}
	for (; i < end && buf[i] >= '0' && buf[i] <= '9'; i++, digits++) {
		if (v > (~0ull - (buf[i] - '0')) / 10)
			overflow = 1;
		v = v * 10 + (buf[i] - '0');
	}
	if (overflow)
		return -ERANGE;
	if (!digits)
		return -EINVAL;
	if (i < end && buf[i] == '\n')
		i++;
	if (i != end)
		return -EINVAL;
	if (!is_signed) {
		if (v > 0xffffffffull)
			return -ERANGE;
		*value = (long long)v;
	} else if (neg) {
		if (v > 0x80000000ull)
			return -ERANGE;
		*value = -(long long)v;
	} else {
		if (v > 0x7fffffffull)
			return -ERANGE;
		*value = (long long)v;
	}
	return 0;
}

/* Whether a read of `config` has C's layout. */
static int config_parses(const char *c)
{
	int threads, n;
	char name[64];

	if (strncmp(c, "Custom trigger configuration for: ", 34))
		return 0;
	c = strchr(c, '\n');
	if (!c || sscanf(c, "\nNumber of threads:\t%d\nTest_case:\t%63s (%d)\n", &threads, name, &n) != 3)
		return 0;
	if (n != 1 && n != 2)
		return 0;
	c = strstr(c, "\ndriver:\t");
	return c && strstr(c, "\nfs:\t") && c[strlen(c) - 1] == '\n';
}

static void random_bytes(unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = next();
}

/* A payload for a number knob: mostly number-like, sometimes garbage. */
static size_t number_payload(unsigned char *buf)
{
	static const char *const shapes[] = {
		"%llu", "+%llu", "-%llu", "%llu\n", "+%llu\n", "-%llu\n", " %llu", "%llu ",
		"%llu\n\n", "0%llu", "000000000000%llu", "%llux", "0x%llx", "%llu\t",
		"+-%llu", "--%llu", "%llu\n0",
	};
	static const unsigned long long values[] = {
		0, 1, 2, 3, 7, 50, 64, 4194304, 4194305, 2147483647, 2147483648ull,
		4294967295ull, 4294967296ull, 9223372036854775807ull, 18446744073709551615ull,
	};
	unsigned long long v;
	size_t len;

	switch (below(8)) {
	case 0: /* Random bytes, short. */
		len = below(12);
		random_bytes(buf, len);
		return len;
	case 1: /* Digits past any overflow, or a page of zeros. */
		len = below(2) ? 1 + below(60) : PAGE - 2 + below(4);
		memset(buf, '0', len);
		for (size_t i = 0; i < len; i += 1 + below(7))
			buf[i] = '0' + below(10);
		return len;
	default:
		v = below(3) ? values[below(sizeof(values) / sizeof(*values))] : next() >> below(64);
		len = snprintf((char *)buf, 64, shapes[below(sizeof(shapes) / sizeof(*shapes))], v);
		if (below(8) == 0) /* A NUL inside, C stops there. */
			buf[below(len + 1)] = 0;
		return len;
	}
}

/* A payload for a name knob: any bytes, 0 to 8192 of them. */
static size_t name_payload(unsigned char *buf)
{
	static const char *const names[] = { "test_module", "ramfs", "xfs", "nope", "" };
	size_t len;

	const char *name;

	switch (below(4)) {
	case 0:
		name = names[below(5)];
		len = strlen(name);
		memcpy(buf, name, len);
		return len;
	case 1:
		len = below(MAX_WRITE + 1);
		break;
	default:
		len = below(80);
		break;
	}
	random_bytes(buf, len);
	return len;
}

/* One random write to a decimal knob, checked. */
static void fuzz_number(const char *knob, int is_signed, long long min, long long max)
{
	static unsigned char buf[MAX_WRITE + 1];
	char before[PAGE + 1], after[PAGE + 1], config[PAGE + 1], again[PAGE + 1], want[32];
	size_t len = number_payload(buf);
	long long value = 0;
	int expect;
	ssize_t ret;

	get("config", config);
	get(knob, before);
	ret = put(knob, buf, len);
	/* Sysfs hands the knob at most a page of the write. */
	if (len > PAGE)
		len = PAGE;
	expect = c_parse(buf, len, is_signed, &value);
	if (!expect && (value < min || value > max))
		expect = -EINVAL;
	if (len == 0)
		expect = 0; /* Nothing is written, nothing happens. */
	if (ret == -ENOMEM)
		expect = -ENOMEM; /* Allowed anywhere; the state must not change. */
	if (ret != (expect ? expect : (ssize_t)len))
		violation(knob, "wrong result", buf, len);
	get(knob, after);
	if (ret < 0 || len == 0) {
		get("config", again);
		if (strcmp(before, after) || strcmp(config, again))
			violation(knob, "a rejected write changed the state", buf, len);
	} else {
		snprintf(want, sizeof(want), "%lld\n", value);
		if (strcmp(after, want))
			violation(knob, "reads back other than written", buf, len);
	}
}

/* One random write to a name knob, checked. */
static void fuzz_name(const char *knob)
{
	static unsigned char buf[MAX_WRITE + 1];
	char before[PAGE + 1], after[PAGE + 1], config[PAGE + 1], again[PAGE + 1];
	size_t len = name_payload(buf), keep;
	ssize_t ret, n;

	get("config", config);
	get(knob, before);
	ret = put(knob, buf, len);
	n = get(knob, after);
	/* Sysfs hands the knob at most a page of the write. */
	if (len > PAGE)
		len = PAGE;
	if (ret != (ssize_t)len && ret != -ENOMEM) {
		violation(knob, "wrong result", buf, len);
	} else if (ret < 0 || len == 0) {
		get("config", again);
		if (strcmp(before, after) || strcmp(config, again))
			violation(knob, "a rejected write changed the state", buf, len);
	} else {
		/*
		 * kstrndup() up to the first NUL, shown as "%s\n" in a page:
		 * at most PAGE - 1 bytes, the newline first to go.
		 */
		keep = strnlen((const char *)buf, len);
		if (keep >= PAGE - 1 ? n != PAGE - 1 || memcmp(after, buf, PAGE - 1) :
				       n != (ssize_t)keep + 1 || memcmp(after, buf, keep) || after[keep] != '\n')
			violation(knob, "reads back other than written", buf, len);
	}
}

static unsigned long triggers, trigger_errors;

/* A small run: a few threads on a known or a random name, triggered. */
static void fuzz_trigger(void)
{
	static const char *const drivers[] = { "test_module", "nope-not-a-module", "" };
	static const char *const filesystems[] = { "ramfs", "nope-not-a-fs" };
	char threads[16], result[PAGE + 1];
	long long value;
	ssize_t ret;
	int fs = below(2);

	snprintf(threads, sizeof(threads), "%u", 1 + below(16));
	if (put("config_num_threads", threads, strlen(threads)) < 0)
		return;
	put("config_test_case", fs ? "2" : "1", 1);
	const char *name = fs ? filesystems[below(2)] : drivers[below(3)];

	if (!fs || below(4))
		put(fs ? "config_test_fs" : "config_test_driver", name, strlen(name));
	ret = put("trigger_config", "1", 1);
	triggers++;
	if (ret < 0) {
		trigger_errors++;
		/* A file system run without a file system, or out of memory. */
		if (ret != -EINVAL && ret != -ENOMEM)
			violation("trigger_config", "wrong result", (const unsigned char *)"1", 1);
		/* After -ENOMEM triggers fail until reset, as in C. */
		put("reset", "1", 1);
		return;
	}
	if (get("test_result", result) < 0 || c_parse((unsigned char *)result, strlen(result), 1, &value))
		violation("test_result", "does not parse after a run", (unsigned char *)result, strlen(result));
}

int main(int argc, char **argv)
{
	static const char *const numbers[] = { "config_num_threads", "config_test_case", "test_result" };
	unsigned long writes, i;
	char buf[PAGE + 1];

	if (argc != 4 && (argc != 5 || strcmp(argv[4], "fail"))) {
		fprintf(stderr, "usage: knobfuzz SEED WRITES DIR [fail]\n");
		return 2;
	}
	rng = strtoull(argv[1], NULL, 0) * 0x9e3779b97f4a7c15ull + 1;
	writes = strtoul(argv[2], NULL, 0);
	dir = argv[3];
	for (i = 0; argv[3][i]; i++) /* A stream of its own per device. */
		rng = (rng ^ (unsigned char)argv[3][i]) * 0x100000001b3ull;
	for (i = 0; i < sizeof(knobs) / sizeof(*knobs); i++)
		knob(knobs[i].name);
	if (argc == 5) {
		int fd = open("/proc/self/make-it-fail", O_WRONLY);

		if (fd < 0 || write(fd, "1", 1) != 1) {
			perror("make-it-fail");
			return 2;
		}
		close(fd);
	}
	put("reset", "1", 1);
	for (i = 0; i < writes; i++) {
		unsigned int k = below(100);

		if (k < 25)
			fuzz_name("config_test_driver");
		else if (k < 45)
			fuzz_name("config_test_fs");
		else if (k < 70)
			fuzz_number(numbers[0], 0, 1, MAX_THREADS);
		else if (k < 82)
			fuzz_number(numbers[1], 0, 1, 2);
		else if (k < 97)
			fuzz_number(numbers[2], 1, -2147483648ll, 2147483647ll);
		else if (k < 99)
			fuzz_trigger();
		else if (put("reset", "x", below(2)) < 0)
			put("reset", "1", 1);
		if (get("config", buf) < 0 || !config_parses(buf))
			violation("config", "does not parse", (unsigned char *)buf, strlen(buf));
	}
	printf("FUZZ %s writes=%lu rejected=%lu enomem=%lu triggers=%lu trigger_errors=%lu reads=%lu violations=%lu\n",
	       dir, writes, rejected, enomem, triggers, trigger_errors, reads, violations);
	return violations ? 1 : 0;
}
