import { describe, expect, it } from "vitest";
import { parseMediaSettings, renderMediaSettings } from "./media.js";

describe("media settings file", () => {
  it("reads what a technician writes: comments, blanks, spaces around =, a trailing slash", () => {
    const text = "# edited\n\nserver = http://192.0.2.1:8080/\r\nca=SHA256:" + "AB".repeat(32) + "\n";
    expect(parseMediaSettings(text)).toEqual({
      ok: true,
      settings: { server: "http://192.0.2.1:8080", ca: "sha256:" + "ab".repeat(32) },
    });
  });

  it("parses static addressing into its parts", () => {
    const result = parseMediaSettings(
      "server=http://192.0.2.1\nstatic=192.0.2.10/24,192.0.2.1,192.0.2.53,192.0.2.54",
    );
    expect(result).toEqual({
      ok: true,
      settings: {
        server: "http://192.0.2.1",
        static: {
          address: "192.0.2.10",
          prefix: 24,
          gateway: "192.0.2.1",
          dns: ["192.0.2.53", "192.0.2.54"],
        },
      },
    });
  });

  it("names each bad line: unknown key, twice-set key, bad URL, bad prefix, missing server", () => {
    const result = parseMediaSettings(
      "sever=x\nserver=ftp://a\nserver=http://b\nstatic=10.0.0.1/40,10.0.0.254",
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((issue) => issue.line)).toEqual([1, 3, 2, 4]);
    expect(result.issues[0]?.message).toMatch(/unknown setting "sever"/);
    expect(result.issues[1]?.message).toMatch(/server is set twice \(line 2\)/);
    expect(parseMediaSettings("# nothing\n")).toMatchObject({ ok: false, issues: [{ line: null }] });
  });

  it("renders a file that parses back to the same settings", () => {
    const settings = {
      server: "https://bootwright.example:8443",
      ca: "sha256:" + "0f".repeat(32),
      static: { address: "198.51.100.7", prefix: 25, gateway: "198.51.100.1", dns: ["198.51.100.2"] },
    };
    expect(parseMediaSettings(renderMediaSettings(settings))).toEqual({ ok: true, settings });
    expect(parseMediaSettings(renderMediaSettings({ server: "http://a" }))).toEqual({
      ok: true,
      settings: { server: "http://a" },
    });
  });

  it("offline media needs no server; without offline=yes one is required", () => {
    expect(parseMediaSettings("offline=yes\n")).toEqual({ ok: true, settings: { offline: "yes" } });
    expect(parseMediaSettings(renderMediaSettings({ offline: "yes" }))).toEqual({
      ok: true,
      settings: { offline: "yes" },
    });
    const refused = parseMediaSettings("offline=no\n");
    expect(refused.ok).toBe(false);
    expect(parseMediaSettings("ca=sha256:" + "0f".repeat(32))).toMatchObject({
      ok: false,
      issues: [{ message: "server: required (unless offline=yes)" }],
    });
  });
});
