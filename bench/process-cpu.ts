// CPU time of this benchmark's own processes by role (the bootwright servers, PostgreSQL, nginx, and
// this process, the load generator), from /proc: on a machine whose cores every process shares, the
// sum per call is what bounds the calls per second, whatever the latency.
import { readFileSync, readdirSync } from "node:fs";

export type Role = "servers" | "postgres" | "nginx" | "load";

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on every Linux we run on). */
const TICKS_PER_SECOND = 100;

interface ProcessTimes {
  ppid: number;
  command: string;
  ticks: number;
  role: Role | undefined;
}

function roleOf(command: string): Role | undefined {
  if (command.includes("postgres")) return "postgres";
  if (command.includes("nginx")) return "nginx";
  if (/cli\/main\.ts server /.test(command)) return "servers";
  return undefined;
}

function processes(): Map<number, ProcessTimes> {
  const found = new Map<number, ProcessTimes>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      // Fields after the command's closing parenthesis: state ppid … utime(14) stime(15), 1-based.
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      found.set(pid, {
        ppid: Number(fields[1]),
        command,
        ticks: Number(fields[11]) + Number(fields[12]),
        role: roleOf(command),
      });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * CPU milliseconds per role among this process's descendants and those of the processes whose command
 * line names one of `roots` (a daemon such as PostgreSQL's, which pg_ctl detached), plus this process
 * itself as "load".
 */
function cpuByRole(roots: readonly string[]): Map<Role, number> {
  const all = processes();
  const ours = new Set([process.pid]);
  for (const [pid, times] of all) if (roots.some((root) => times.command.includes(root))) ours.add(pid);
  // Descendants: a process whose parent is ours (PIDs only grow within a run, so a few passes settle it).
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, times] of all)
      if (!ours.has(pid) && ours.has(times.ppid)) {
        ours.add(pid);
        grew = true;
      }
  }
  const totals = new Map<Role, number>();
  for (const pid of ours) {
    const times = all.get(pid);
    const role = pid === process.pid ? "load" : times?.role;
    if (!times || !role) continue;
    totals.set(role, (totals.get(role) ?? 0) + (times.ticks * 1000) / TICKS_PER_SECOND);
  }
  return totals;
}

/** Starts counting; the returned function gives each role's CPU µs per call since then. */
export function countCpu(roots: readonly string[] = []): (calls: number) => Partial<Record<Role, number>> {
  const before = cpuByRole(roots);
  return (calls) => {
    const after = cpuByRole(roots);
    const perCall: Partial<Record<Role, number>> = {};
    for (const [role, ms] of after)
      perCall[role] = Math.round(((ms - (before.get(role) ?? 0)) * 1000) / calls);
    return perCall;
  };
}

/** All roles' CPU µs per call together. */
export function totalCpu(perCall: Partial<Record<Role, number>>): number {
  return Object.values(perCall).reduce((sum, us) => sum + us, 0);
}

/** "servers 610, postgres 700, … = 2,000 µs of CPU per call: at most N calls/s on this machine's cores". */
export function describeCpu(perCall: Partial<Record<Role, number>>, cores: number): string {
  const parts = Object.entries(perCall).filter(([, us]) => us > 0);
  const total = totalCpu(perCall);
  const bound = Math.round((cores * 1_000_000) / Math.max(1, total));
  return `CPU µs per call: ${parts.map(([role, us]) => `${role} ${us}`).join(", ")} = ${total}, so at most ${bound.toLocaleString("en")} calls/s on ${cores} cores`;
}
