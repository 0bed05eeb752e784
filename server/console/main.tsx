// The operator console's entry: zod set up first (zod-setup.ts says why), its style sheet, and the app
// mounted on the page's #app.
import "./zod-setup.js";
import { render } from "preact";
import { App } from "./app.js";
import "./style.css";

const root = document.getElementById("app");
if (root) render(<App />, root);
