// Headless Chromium from Debian's package (apt: chromium), driven by playwright-core (which never
// downloads a browser). Started as a process of our own and stopped by its PID even when a test fails.
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM_PATH = "/usr/bin/chromium";

export interface RunningChromium {
  browser: Browser;
  pid: number;
  /** Closes the browser, then kills its process if it is still there. */
  stop: () => Promise<void>;
}

export async function startChromium(): Promise<RunningChromium> {
  const server = await chromium.launchServer({
    executablePath: CHROMIUM_PATH,
    // As root (CI), Chromium's sandbox cannot start; the page is ours and only talks to loopback.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
  const child = server.process();
  const pid = child.pid;
  if (pid === undefined) throw new Error("chromium started without a PID");
  let browser: Browser | undefined;
  const stop = async (): Promise<void> => {
    await browser?.close().catch(() => undefined);
    await server.close().catch(() => undefined);
    // Still there (a hung close): SIGKILL to its PID.
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, "SIGKILL");
  };
  try {
    browser = await chromium.connect(server.wsEndpoint());
    return { browser, pid, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Every console error and uncaught exception of the page, to assert there are none. Chromium logs each
 * refused request as an error too: `refusals` names the paths whose refusal the test expects (e.g. the
 * 404 of GET /v1/events where the server has no event stream yet, on which the page polls instead).
 */
export function collectPageErrors(page: Page, refusals: readonly string[] = ["/v1/events"]): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const url = message.location().url;
    const refused = message.text().startsWith("Failed to load resource");
    if (refused && url && refusals.includes(new URL(url).pathname)) return;
    errors.push(`${message.text()} (${url})`);
  });
  page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
  return errors;
}

/** Logs in on the console's form with `token`; resolves once the boot list shows. */
export async function logIn(page: Page, baseUrl: string, token: string): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByTestId("count").waitFor();
}
