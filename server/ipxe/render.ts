// Renders the boot scripts in ipxe-scripts/ (pure: template text + values → script text): iPXE's, and
// the grub.cfg the signed chain's GRUB reads over TFTP.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  BootwrightError,
  type BootPath,
  type FailureContext,
  type MacAddress,
} from "../../protocol/index.js";
import { INSTALL_ROOT } from "../install-root.js";

const TEMPLATE_DIR = resolve(INSTALL_ROOT, "ipxe-scripts");

const TEMPLATE_FILES = {
  boot: "boot.ipxe",
  loader: "loader.ipxe",
  local: "local.ipxe",
  "loader-grub": "loader.grub",
  "local-grub": "local.grub",
  "fallback-grub": "fallback.grub",
} as const;

export type TemplateName = keyof typeof TEMPLATE_FILES;
export type Templates = Readonly<Record<TemplateName, string>>;

export function loadTemplate(name: TemplateName): string {
  return readFileSync(resolve(TEMPLATE_DIR, TEMPLATE_FILES[name]), "utf8");
}

export function loadTemplates(): Templates {
  const entries = Object.keys(TEMPLATE_FILES).map((name) => [name, loadTemplate(name as TemplateName)]);
  return Object.fromEntries(entries) as Templates;
}

export class TemplateError extends BootwrightError<"template_error"> {
  constructor(message: string, context: FailureContext<"template_error">) {
    super("template_error", message, context);
  }
}

/**
 * Replaces every `{{name}}` with its value. A placeholder with no value, or a value that would break
 * the script (whitespace in a URL, a newline anywhere), is an error: a half-rendered script would
 * leave a machine at an iPXE prompt.
 */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_match, name: string) => {
    const value = values[name];
    if (value === undefined)
      throw new TemplateError(`iPXE template needs a value for {{${name}}}`, { placeholder: name });
    if (/[\r\n]/.test(value))
      throw new TemplateError(`value for {{${name}}} contains a line break`, {
        placeholder: name,
      });
    return value;
  });
}

/** pxelinux's BOOTIF: ARP type 01 (Ethernet) then the MAC with dashes. */
export function bootifFor(mac: MacAddress): string {
  return `01-${mac.replaceAll(":", "-")}`;
}

export function renderBootScript(template: string, serverUrl: string): string {
  return renderTemplate(template, { serverUrl });
}

/** The loader's iPXE script, or (same values) the signed chain's grub.cfg. */
export function renderLoaderScript(
  template: string,
  args: {
    /** Where firmware fetches the kernel and initramfs (plain HTTP: iPXE has no TLS here). */
    serverUrl: string;
    /** What the loader calls: the same, or its https:// form when the server runs TLS. */
    apiUrl: string;
    machineId: string;
    mac: MacAddress;
    kernelArgs: string;
    path: BootPath;
  },
): string {
  for (const placeholder of ["serverUrl", "apiUrl"] as const)
    if (/\s/.test(args[placeholder]))
      throw new TemplateError(`server URL contains whitespace: ${args[placeholder]}`, { placeholder });
  return renderTemplate(template, { ...args, bootif: bootifFor(args.mac) });
}

export function renderLocalBootScript(template: string, machineId: string): string {
  return renderTemplate(template, { machineId });
}
