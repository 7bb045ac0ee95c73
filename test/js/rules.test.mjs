// rules.test.mjs: the web client's files keep the rules that let it run under a strict
// Content-Security-Policy and never turn what people send into markup: no inline script or
// style, no event-handler attributes, nothing from another origin, no HTML from strings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const WEB = fileURLToPath(new URL("../../web/", import.meta.url));
const files = readdirSync(WEB).filter((f) => !f.startsWith("."));
const read = (f) => readFileSync(join(WEB, f), "utf8");

test("index.html: scripts and styles only from files of the same origin", () => {
  const html = read("index.html");
  for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
    assert.match(m[1], /\bsrc="\/[^/"][^"]*"/, "a script without a same-origin src: " + m[0]);
    assert.equal(m[2].trim(), "", "an inline script: " + m[0]);
  }
  assert.doesNotMatch(html, /<style\b/i, "an inline <style>");
  assert.doesNotMatch(html, /\sstyle\s*=/i, "a style attribute");
  assert.doesNotMatch(html, /\son[a-z]+\s*=/i, "an event-handler attribute");
  assert.doesNotMatch(html, /(src|href)\s*=\s*"(https?:)?\/\//i, "something from another origin");
  assert.doesNotMatch(html, /javascript:/i);
});

test("scripts: no HTML from strings, no eval, no inline styles, imports same-origin only", () => {
  for (const f of files.filter((f) => f.endsWith(".js"))) {
    const js = read(f);
    for (const bad of [/\binnerHTML\b/, /\bouterHTML\b/, /insertAdjacentHTML/, /document\.write/,
      /\beval\s*\(/, /new\s+Function\b/, /\.style\s*[.=[]/, /setAttribute\(\s*["']style/,
      /setTimeout\(\s*["'`]/, /setInterval\(\s*["'`]/]) {
      assert.doesNotMatch(js, bad, `${f}: ${bad}`);
    }
    for (const m of js.matchAll(/^\s*import\b[^;]*?from\s+"([^"]+)"/gm)) {
      assert.match(m[1], /^\.\/[a-z]+\.js$/, `${f}: imports ${m[1]}`);
    }
  }
});

test("styles: nothing fetched from elsewhere (fonts, images, imports)", () => {
  for (const f of files.filter((f) => f.endsWith(".css"))) {
    const css = read(f);
    assert.doesNotMatch(css, /@import/i, f);
    assert.doesNotMatch(css, /url\(\s*["']?(https?:)?\/\//i, f);
    assert.doesNotMatch(css, /@font-face/i, f);
  }
});
