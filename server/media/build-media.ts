// `bootwright media build`: checks every setting and input file first (a refused build writes nothing),
// then has build-scripts/media/iso.ts make the hybrid ISO.
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import {
  BootwrightError,
  OFFLINE_MANIFEST_FILE,
  parseMediaSettings,
  renderMediaSettings,
} from "../../protocol/index.js";
import { buildMediaIso, type MediaFile } from "../../build-scripts/media/iso.js";

export class MediaBuildRefused extends BootwrightError<"media_build_refused"> {
  constructor(message: string, context: { setting?: string; file?: string; image?: string }) {
    super("media_build_refused", message, context);
  }
}

/** What offline media carries besides the loader (server/media/offline-inputs.ts checks and finds it). */
export interface OfflineMediaInputs {
  /** offline/manifest.json's text, for the ESP. */
  manifestText: string;
  /** The image's blob, for the ISO9660 tree at `blob.name`. */
  blob: MediaFile;
}

export interface MediaBuildRequest {
  /** Required unless `offline` is given. */
  server?: string | undefined;
  caFingerprint?: string | undefined;
  /** "address/prefix,gateway,dns[,dns…]" */
  static?: string | undefined;
  out: string;
  kernel: string;
  initramfs: string;
  /** build/boot-files: shimx64.efi and disk-grubx64.efi (build-scripts/fetch-boot-files.sh). */
  bootFilesDir: string;
  kernelArgs: string;
  offline?: OfflineMediaInputs | undefined;
}

/** The settings file's text for these flags, validated by the same parser the loader uses. */
export function mediaSettingsText(
  request: Pick<MediaBuildRequest, "server" | "caFingerprint" | "static" | "offline">,
): string {
  const lines: string[] = [];
  if (request.server !== undefined) lines.push(`server=${request.server}`);
  if (request.offline) lines.push("offline=yes");
  if (request.caFingerprint) lines.push(`ca=${request.caFingerprint}`);
  if (request.static) lines.push(`static=${request.static}`);
  const parsed = parseMediaSettings(lines.join("\n"));
  if (!parsed.ok) {
    const first = parsed.issues[0];
    const setting = first?.message.split(/[.:]/)[0] ?? "settings";
    throw new MediaBuildRefused(
      `media build refused: ${parsed.issues.map((issue) => issue.message).join("; ")}`,
      { setting },
    );
  }
  return renderMediaSettings(parsed.settings);
}

function requireReadable(file: string, what: string, fix: string): void {
  try {
    accessSync(file, constants.R_OK);
  } catch {
    throw new MediaBuildRefused(`media build refused: ${what} ${file} is missing or unreadable (${fix})`, {
      file,
    });
  }
}

/** Validates everything, then builds; returns the ISO's path and size. */
export async function buildMedia(request: MediaBuildRequest): Promise<{ path: string; sizeBytes: number }> {
  const settingsText = mediaSettingsText(request);
  const setup = "run build-scripts/setup.sh";
  requireReadable(request.kernel, "the kernel", setup);
  requireReadable(request.initramfs, "the initramfs", setup);
  const shim = join(request.bootFilesDir, "shimx64.efi");
  const grub = join(request.bootFilesDir, "disk-grubx64.efi");
  requireReadable(shim, "shim", setup);
  requireReadable(grub, "the signed GRUB", setup);
  const sizeBytes = await buildMediaIso({
    kernel: request.kernel,
    initramfs: request.initramfs,
    shim,
    grub,
    settingsText,
    kernelArgs: request.kernelArgs,
    out: request.out,
    ...(request.offline
      ? {
          extraFiles: [request.offline.blob],
          espFiles: [{ name: OFFLINE_MANIFEST_FILE, text: request.offline.manifestText }],
        }
      : {}),
  });
  return { path: request.out, sizeBytes };
}
