// Entry point: mounts the app into index.html's #app.
// First: a valid navigator.language before any library reads it (see locale.ts).
import "./lib/locale";
import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";

const target = document.getElementById("app");
if (target === null) throw new Error("index.html lacks the #app element");

export default mount(App, { target });
