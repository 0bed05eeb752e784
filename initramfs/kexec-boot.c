/*
 * kexec-boot: starts the installed system's kernel without a trip through the firmware (a plan's
 * `reboot: kexec`, agent/loader/kexec.ts), through kexec_file_load(2): the running kernel reads and
 * checks the image itself and brings its own purgatory. Debian's kexec-tools would do the same but links
 * Xen's libraries for this one call.
 * Usage: kexec-boot load <kernel> <initrd, or - for none> <command line>
 *          loads the image; the files may be unmounted afterwards (the kernel holds its own copy)
 *        kexec-boot exec
 *          syncs and jumps into the loaded image; returns only when there is none
 * Exit: 0 loaded; 2 usage or a file does not open; 3 the kernel refused the image (stderr says why);
 *       4 exec returned. Built by build-scripts/build-initramfs.ts.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kexec.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>

static int open_file(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fprintf(stderr, "kexec-boot: %s: %s\n", path, strerror(errno));
  return fd;
}

static int load(const char *kernel_path, const char *initrd_path, const char *cmdline) {
  int kernel = open_file(kernel_path);
  if (kernel < 0) return 2;
  int initrd = -1;
  unsigned long flags = 0;
  if (strcmp(initrd_path, "-") == 0) {
    flags |= KEXEC_FILE_NO_INITRAMFS;
  } else {
    initrd = open_file(initrd_path);
    if (initrd < 0) return 2;
  }
  /* The length counts the terminating NUL (kexec_file_load(2)). */
  if (syscall(SYS_kexec_file_load, kernel, initrd, strlen(cmdline) + 1, cmdline, flags) != 0) {
    fprintf(stderr, "kexec-boot: kexec_file_load %s: %s\n", kernel_path, strerror(errno));
    return 3;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "load") == 0) return load(argv[2], argv[3], argv[4]);
  if (argc == 2 && strcmp(argv[1], "exec") == 0) {
    sync();
    reboot(LINUX_REBOOT_CMD_KEXEC);
    fprintf(stderr, "kexec-boot: reboot(KEXEC): %s\n", strerror(errno));
    return 4;
  }
  fprintf(stderr, "usage: kexec-boot load <kernel> <initrd|-> <command line> | kexec-boot exec\n");
  return 2;
}
