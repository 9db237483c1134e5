import { render } from "preact";
import { restoreSession } from "./api/session.ts";
import { App } from "./app.tsx";
import "./styles.css";

// The access token lives in memory: a page load asks for one (the refresh cookie) before the first render.
const root = document.getElementById("app");
if (root) void restoreSession().then(() => render(<App />, root));
