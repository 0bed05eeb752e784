// Rendered iPXE scripts are tested whole against golden copies (as tinkerbell's smee does).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  bootifFor,
  loadTemplate,
  renderBootScript,
  renderLoaderScript,
  renderLocalBootScript,
  renderTemplate,
} from "./render.js";

const golden = (name: string): string => readFileSync(resolve(import.meta.dirname, "golden", name), "utf8");

describe("iPXE scripts", () => {
  it("renders the one boot script every machine gets", () => {
    expect(renderBootScript(loadTemplate("boot"), "http://10.0.2.2:8080")).toBe(golden("boot.ipxe"));
  });

  it("renders a machine's loader script with BOOTIF and the advertised server URL", () => {
    const script = renderLoaderScript(loadTemplate("loader"), {
      serverUrl: "http://10.0.2.2:8080",
      apiUrl: "http://10.0.2.2:8080",
      machineId: "0e0c8a6a-6f5f-4c43-9d57-000000000b01",
      mac: "52:54:00:b0:00:01",
      kernelArgs: "console=tty0 console=ttyS0,115200n8 quiet panic=30",
      path: "pxe-bios",
    });
    expect(script).toBe(golden("loader.ipxe"));
  });

  it("under TLS: kernel and initramfs over plain HTTP (iPXE has no TLS), the loader told https and the CA", () => {
    const script = renderLoaderScript(loadTemplate("loader"), {
      serverUrl: "http://10.0.2.2:8080",
      apiUrl: "https://10.0.2.2:8080",
      machineId: "0e0c8a6a-6f5f-4c43-9d57-000000000b01",
      mac: "52:54:00:b0:00:01",
      kernelArgs: `console=ttyS0,115200n8 bootwright.ca=sha256:${"ab".repeat(32)}`,
      path: "ipxe",
    });
    expect(script).toBe(golden("loader-tls.ipxe"));
  });

  it("renders the local-disk script for a machine that already runs its plan", () => {
    expect(renderLocalBootScript(loadTemplate("local"), "0e0c8a6a-6f5f-4c43-9d57-000000000b01")).toBe(
      golden("local.ipxe"),
    );
  });

  it("refuses a template value it has no value for, or one with a line break", () => {
    expect(() => renderTemplate("x {{missing}}", {})).toThrow(
      expect.objectContaining({ code: "template_error", context: { placeholder: "missing" } }),
    );
    expect(() => renderTemplate("x {{a}}", { a: "1\nshell" })).toThrow(/line break/);
    expect(() =>
      renderLoaderScript(loadTemplate("loader"), {
        serverUrl: "http://a b",
        apiUrl: "http://a",
        machineId: "m",
        mac: "52:54:00:00:00:01",
        kernelArgs: "",
        path: "ipxe",
      }),
    ).toThrow(/whitespace/);
  });

  it("renders the signed chain's grub.cfg for a machine: the loader, or its own disk", () => {
    const values = {
      serverUrl: "http://10.77.0.1:8080",
      apiUrl: "http://10.77.0.1:8080",
      machineId: "0e0c8a6a-6f5f-4c43-9d57-000000000b01",
      mac: "52:54:00:b0:00:01",
      kernelArgs: "console=ttyS0,115200n8 quiet panic=-1",
      path: "secure-boot" as const,
    };
    expect(renderLoaderScript(loadTemplate("loader-grub"), values)).toBe(golden("loader.grub"));
    expect(renderLocalBootScript(loadTemplate("local-grub"), values.machineId)).toBe(golden("local.grub"));
  });

  it("writes BOOTIF the pxelinux way", () => {
    expect(bootifFor("52:54:00:b0:00:01")).toBe("01-52-54-00-b0-00-01");
  });
});
