/*
 * lldp-listen: prints the LLDP frames (EtherType 0x88cc, IEEE 802.1AB) heard on the named interfaces,
 * one line each, "<interface> <frame as hex>", and exits once every interface has been heard or after
 * the given seconds. The loader parses the frames (agent/inventory/lldp.ts): Node has no packet sockets,
 * and this is the one thing it needs them for. Built static by build-scripts/build-initramfs.ts.
 * Usage: lldp-listen <seconds> <interface>...
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETH_P_LLDP 0x88cc
#define MAX_IFS 32

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: lldp-listen <seconds> <interface>...\n");
    return 2;
  }
  long deadline = now_ms() + atol(argv[1]) * 1000L;
  int count = argc - 2 > MAX_IFS ? MAX_IFS : argc - 2;
  struct pollfd fds[MAX_IFS];
  int heard[MAX_IFS] = {0};
  int open_count = 0;
  for (int i = 0; i < count; i++) {
    const char *name = argv[i + 2];
    fds[i].fd = -1;
    fds[i].events = POLLIN;
    unsigned index = if_nametoindex(name);
    if (index == 0) {
      fprintf(stderr, "lldp-listen: no interface %s\n", name);
      heard[i] = 1;
      continue;
    }
    int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_LLDP));
    if (fd < 0) {
      perror("lldp-listen: socket");
      return 1;
    }
    struct sockaddr_ll addr = {0};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_LLDP);
    addr.sll_ifindex = (int)index;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
      perror("lldp-listen: bind");
      return 1;
    }
    /* The nearest-bridge group address 01:80:c2:00:00:0e: NICs filter multicast unless asked for it. */
    struct packet_mreq mreq = {0};
    mreq.mr_ifindex = (int)index;
    mreq.mr_type = PACKET_MR_MULTICAST;
    mreq.mr_alen = 6;
    unsigned char group[6] = {0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e};
    memcpy(mreq.mr_address, group, 6);
    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq);
    fds[i].fd = fd;
    open_count++;
  }
  unsigned char frame[2048];
  while (open_count > 0) {
    long left = deadline - now_ms();
    if (left <= 0) break;
    if (poll(fds, (nfds_t)count, (int)left) <= 0) continue;
    for (int i = 0; i < count; i++) {
      if (fds[i].fd < 0 || !(fds[i].revents & POLLIN)) continue;
      ssize_t n = recv(fds[i].fd, frame, sizeof frame, 0);
      if (n <= 0) continue;
      printf("%s ", argv[i + 2]);
      for (ssize_t b = 0; b < n; b++) printf("%02x", frame[b]);
      printf("\n");
      fflush(stdout);
      if (!heard[i]) {
        heard[i] = 1;
        close(fds[i].fd);
        fds[i].fd = -1;
        open_count--;
      }
    }
  }
  return 0;
}
