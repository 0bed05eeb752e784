/*
 * nvme-format: NVMe Format NVM with a secure erase setting, through the kernel's admin passthrough ioctl,
 * for a released machine's `--erase secure` (agent/loader/erase.ts). nvme-cli would do the same but
 * brings libnvme, libsystemd and libcrypto with it (~4 MB compressed) for this one command.
 * Keeps the namespace's current LBA format (Identify Namespace's FLBAS). Built by build-initramfs.ts.
 * Usage: nvme-format <namespace device, e.g. /dev/nvme0n1> <ses: 1 user data erase | 2 crypto erase>
 * Exit: 0 done; 2 usage or the device does not open; 3 the device cannot (said on stderr); 4 it failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/nvme_ioctl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define OPC_IDENTIFY 0x06
#define OPC_FORMAT_NVM 0x80
#define CNS_NAMESPACE 0
#define CNS_CONTROLLER 1

static int admin(int fd, struct nvme_admin_cmd *cmd, const char *what) {
  int ret = ioctl(fd, NVME_IOCTL_ADMIN_CMD, cmd);
  if (ret < 0) fprintf(stderr, "nvme-format: %s: %s\n", what, strerror(errno));
  else if (ret > 0) fprintf(stderr, "nvme-format: %s: NVMe status 0x%x\n", what, ret);
  return ret;
}

static int identify(int fd, uint32_t nsid, uint32_t cns, uint8_t *out) {
  struct nvme_admin_cmd cmd;
  memset(&cmd, 0, sizeof cmd);
  cmd.opcode = OPC_IDENTIFY;
  cmd.nsid = nsid;
  cmd.addr = (uint64_t)(uintptr_t)out;
  cmd.data_len = 4096;
  cmd.cdw10 = cns;
  return admin(fd, &cmd, cns == CNS_CONTROLLER ? "identify controller" : "identify namespace");
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[2], "1") != 0 && strcmp(argv[2], "2") != 0)) {
    fprintf(stderr, "usage: nvme-format <namespace device> <ses 1|2>\n");
    return 2;
  }
  uint32_t ses = (uint32_t)atoi(argv[2]);
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) {
    fprintf(stderr, "nvme-format: %s: %s\n", argv[1], strerror(errno));
    return 2;
  }
  int nsid = ioctl(fd, NVME_IOCTL_ID);
  if (nsid <= 0) {
    fprintf(stderr, "nvme-format: %s is not an NVMe namespace\n", argv[1]);
    return 3;
  }
  static uint8_t ctrl[4096], ns[4096];
  if (identify(fd, 0, CNS_CONTROLLER, ctrl) != 0 || identify(fd, (uint32_t)nsid, CNS_NAMESPACE, ns) != 0)
    return 4;
  uint16_t oacs = (uint16_t)(ctrl[256] | ctrl[257] << 8);
  if (!(oacs & 0x2)) {
    fprintf(stderr, "nvme-format: the controller does not support Format NVM (OACS 0x%x)\n", oacs);
    return 3;
  }
  uint8_t fna = ctrl[524];
  if (ses == 2 && !(fna & 0x4)) {
    fprintf(stderr, "nvme-format: the controller does not support cryptographic erase (FNA 0x%x)\n", fna);
    return 3;
  }
  /* FLBAS bits 3:0 and 6:5 name the LBA format in use: format it again with the same one. */
  uint8_t flbas = ns[26];
  uint32_t lbaf = (flbas & 0x0f) | (((uint32_t)(flbas >> 5) & 0x3) << 4);
  struct nvme_admin_cmd cmd;
  memset(&cmd, 0, sizeof cmd);
  cmd.opcode = OPC_FORMAT_NVM;
  cmd.nsid = (uint32_t)nsid;
  cmd.cdw10 = (lbaf & 0x0f) | (ses << 9) | ((lbaf >> 4) << 12);
  cmd.timeout_ms = 600000;
  if (admin(fd, &cmd, "format") != 0) return 4;
  printf("formatted %s nsid=%d lbaf=%u ses=%u\n", argv[1], nsid, lbaf, ses);
  close(fd);
  return 0;
}
