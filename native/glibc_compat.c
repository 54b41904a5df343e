// Linked into the prebuilt addons only (binding.gyp's fastconv_portable): keeps their glibc floor at
// what the addon's own code needs rather than at the build machine's glibc. libstdc++'s
// std::random_device, which the addon never constructs but which comes along with std::string's
// exception types when libstdc++ is linked statically, calls arc4random (new in glibc 2.36);
// -Wl,--wrap=arc4random sends that reference here, to the getrandom system call (Linux >= 3.17).
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

uint32_t __wrap_arc4random(void) {
  uint32_t v;
  unsigned char* p = (unsigned char*)&v;
  size_t got = 0;
  while (got < sizeof v) {
    long n = syscall(SYS_getrandom, p + got, sizeof v - got, 0);
    if (n > 0) got += (size_t)n;
    else if (errno != EINTR) abort();  // no entropy source: arc4random itself cannot fail either
  }
  return v;
}
