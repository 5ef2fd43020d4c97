/* A child for timing starts: appends "CLOCK_MONOTONIC-ns pid\n" to FILE the moment it runs, then
   exits (no second argument) or waits for a signal ("wait"). CLOCK_MONOTONIC is the clock of Node's
   process.hrtime.bigint(), so the bench subtracts its own timestamps with no shell or date in between. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (argc < 2) return 2;
  char line[64];
  int n = snprintf(line, sizeof line, "%lld %d\n", (long long)now.tv_sec * 1000000000LL + now.tv_nsec, (int)getpid());
  int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, line, (size_t)n) != n) return 1;
  close(fd);
  if (argc > 2 && strcmp(argv[2], "wait") == 0)
    for (;;) pause();
  return 0;
}
