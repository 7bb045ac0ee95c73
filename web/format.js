// format.js: what people send, made safe to show. IRC formatting codes are either stripped
// or turned into runs of plain text with style flags (bold, italic, underline, strike,
// monospace; colours are dropped); CTCP ACTION is recognised; links are found. Everything
// here returns strings and plain objects: the page puts them on screen with textContent
// only, so nothing anyone sends is ever parsed as HTML.

const BOLD = "\x02", ITALIC = "\x1d", UNDERLINE = "\x1f", STRIKE = "\x1e", MONO = "\x11";
const COLOR = "\x03", HEXCOLOR = "\x04", REVERSE = "\x16", RESET = "\x0f";

// \x03 and up to two digits, optionally a comma and up to two more; \x04 and six hex digits,
// optionally a comma and six more.
const COLOR_RE = /^\x03(?:\d{1,2}(?:,\d{1,2})?)?/;
const HEXCOLOR_RE = /^\x04(?:[0-9A-Fa-f]{6}(?:,[0-9A-Fa-f]{6})?)?/;

// Other control characters that have no business on screen (C0 but TAB, DEL, C1). They are
// removed; TAB becomes a space.
const CONTROL_RE = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;

// text as runs: [{text, bold, italic, underline, strike, mono}], adjacent runs with the
// same flags merged, empty runs left out.
export function parseFormatting(text) {
  const runs = [];
  const st = { bold: false, italic: false, underline: false, strike: false, mono: false };
  let buf = "";
  const flush = () => {
    if (buf === "") return;
    const last = runs[runs.length - 1];
    if (
      last &&
      last.bold === st.bold &&
      last.italic === st.italic &&
      last.underline === st.underline &&
      last.strike === st.strike &&
      last.mono === st.mono
    ) {
      last.text += buf;
    } else {
      runs.push({ text: buf, ...st });
    }
    buf = "";
  };
  for (let i = 0; i < text.length; ) {
    const c = text[i];
    let m;
    switch (c) {
      case BOLD: flush(); st.bold = !st.bold; i++; continue;
      case ITALIC: flush(); st.italic = !st.italic; i++; continue;
      case UNDERLINE: flush(); st.underline = !st.underline; i++; continue;
      case STRIKE: flush(); st.strike = !st.strike; i++; continue;
      case MONO: flush(); st.mono = !st.mono; i++; continue;
      case REVERSE: i++; continue;
      case RESET:
        flush();
        st.bold = st.italic = st.underline = st.strike = st.mono = false;
        i++;
        continue;
      case COLOR:
        m = COLOR_RE.exec(text.slice(i, i + 6));
        i += m[0].length;
        continue;
      case HEXCOLOR:
        m = HEXCOLOR_RE.exec(text.slice(i, i + 14));
        i += m[0].length;
        continue;
      case "\t":
        buf += " ";
        i++;
        continue;
    }
    const code = c.charCodeAt(0);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) {
      i++;
      continue;
    }
    buf += c;
    i++;
  }
  flush();
  return runs;
}

// text without any formatting code or control character.
export function stripFormatting(text) {
  return parseFormatting(text)
    .map((r) => r.text)
    .join("");
}

// A CTCP message ("\x01ACTION waves\x01") as {command, text}, or null for ordinary text.
// The closing \x01 is optional, as many clients send it without.
export function parseCtcp(text) {
  if (text.length < 2 || text[0] !== "\x01") return null;
  let body = text.slice(1);
  if (body.endsWith("\x01")) body = body.slice(0, -1);
  const sp = body.indexOf(" ");
  const command = (sp < 0 ? body : body.slice(0, sp)).toUpperCase();
  if (!/^[A-Z0-9]+$/.test(command)) return null;
  return { command, text: sp < 0 ? "" : body.slice(sp + 1) };
}

// Controls stripped for text that is not formatted (nicks, room names, reasons shown bare).
export function plain(text) {
  return stripFormatting(String(text)).replace(CONTROL_RE, "");
}

// Text split into [{text, href}] where href is set for http(s) links only; every other
// scheme (javascript:, data:) is plain text. Punctuation that usually ends a sentence is
// not part of a link, nor is a closing bracket without its opening one.
export function findLinks(text) {
  const out = [];
  const re = /\bhttps?:\/\/[^\s<>"]+/gi;
  let last = 0, m;
  while ((m = re.exec(text)) !== null) {
    let url = m[0];
    while (/[.,:;!?'"]$/.test(url)) url = url.slice(0, -1);
    for (const [open, close] of [["(", ")"], ["[", "]"]]) {
      while (url.endsWith(close) && count(url, close) > count(url, open)) url = url.slice(0, -1);
    }
    if (m.index > last) out.push({ text: text.slice(last, m.index), href: null });
    out.push({ text: url, href: url });
    last = m.index + url.length;
    re.lastIndex = last;
  }
  if (last < text.length) out.push({ text: text.slice(last), href: null });
  return out;
}

function count(s, c) {
  return s.split(c).length - 1;
}

// Does text mention nick as a word (case-insensitively)?
export function mentions(text, nick) {
  if (!nick) return false;
  const esc = nick.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp("(^|[^A-Za-z0-9_\\-\\[\\]\\\\`^{}|])" + esc + "($|[^A-Za-z0-9_\\-\\[\\]\\\\`^{}|])", "i").test(
    stripFormatting(text),
  );
}
