// run() against real programs (this Node binary): a failure is a CommandError whose code, context and
// fields say what ran and how it ended, matched by code as another bundle would.
import { describe, expect, it } from "vitest";
import { hasCode } from "../../protocol/failure.js";
import { run } from "./run-command.js";

const NODE = process.execPath;

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected the command to fail");
}

describe("run", () => {
  it("resolves with stdout and stderr when the program exits 0", async () => {
    const argv = ["-e", "process.stdout.write('out'); process.stderr.write('err')"];
    await expect(run(NODE, argv, { timeoutMs: 10_000 })).resolves.toEqual({ stdout: "out", stderr: "err" });
  });

  it("rejects with command_failed, the exit code, the stderr tail and the whole stdout", async () => {
    const argv = [
      "-e",
      "process.stdout.write('{\"report\":1}'); process.stderr.write('bad sector\\n'); process.exit(3)",
    ];
    const err = await failure(run(NODE, argv, { timeoutMs: 10_000 }));
    if (!hasCode(err, "command_failed")) throw err;
    expect(err.name).toBe("CommandError");
    expect(err.context).toEqual({ command: NODE, argv, exitCode: 3, stderrTail: "bad sector" });
    expect(err).toMatchObject({ exitCode: 3, stderrTail: "bad sector", stdout: '{"report":1}' });
    expect(err.message).toMatch(/failed \(exit 3\): bad sector$/);
  });

  it("has a null exit code and the spawn error on cause when the program does not exist", async () => {
    const err = await failure(run("/nonexistent/bootwright-tool", ["-x"], { timeoutMs: 10_000 }));
    if (!hasCode(err, "command_failed")) throw err;
    expect(err.context.exitCode).toBeNull();
    expect(err.cause).toMatchObject({ code: "ENOENT" });
  });

  it("has a null exit code when the timeout kills the program", async () => {
    const err = await failure(run(NODE, ["-e", "setTimeout(() => {}, 60_000)"], { timeoutMs: 200 }));
    if (!hasCode(err, "command_failed")) throw err;
    expect(err.context.exitCode).toBeNull();
    expect(err.message).toContain("(killed)");
  });
});
