// Imported first by main.tsx, before any schema exists: zod compiles object parsers with new Function()
// unless told not to, and probes for it when a schema is made. The page's Content-Security-Policy
// forbids eval, and Chromium reports even the probe as an error in the console.
import { config } from "zod";

config({ jitless: true });
