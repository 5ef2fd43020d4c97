/* A child for timing starts: appends "CLOCK_MONOTONIC-ns pid\n" to FILE the moment it runs, then
   exits (no second argument) or waits for a signal ("wait"). CLOCK_MONOTONIC is the clock of Node's
   process.hrtime.bigint(), so the bench subtracts its own timestamps with no shell or date in between.
   "die-after MS": after MS ms it appends a second line (same pid) and SIGKILLs itself, so that a
   restart can be timed from child to child, with no timestamp of the bench's own. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int append(const char *file, const struct timespec *now) {
  char line[64];
  int n = snprintf(line, sizeof line, "%lld %d\n", (long long)now->tv_sec * 1000000000LL + now->tv_nsec, (int)getpid());
  int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, line, (size_t)n) != n) return 1;
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (argc < 2) return 2;
  if (append(argv[1], &now) != 0) return 1;
  if (argc > 2 && strcmp(argv[2], "wait") == 0)
    for (;;) pause();
  if (argc > 3 && strcmp(argv[2], "die-after") == 0) {
    long ms = atol(argv[3]);
    struct timespec nap = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&nap, &nap) != 0) {
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (append(argv[1], &now) != 0) return 1;
    kill(getpid(), SIGKILL);
  }
  return 0;
}
