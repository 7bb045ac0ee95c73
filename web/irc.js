// irc.js: IRC lines as values. Parsing (with IRCv3 message tags), building lines to send,
// case folding, and splitting long text to fit in a line. No DOM, no network: Node's tests
// (test/js/) import it as it is.

// The parts of one IRC line, or null for a line that has no command. `tags` maps each tag
// key to its unescaped value ("" for a tag without a value); `source` is null when the line
// has none; `params` holds every parameter, the trailing one included, without its colon.
export function parseLine(line) {
  if (typeof line !== "string") return null;
  line = line.replace(/[\r\n]+$/, "");
  let pos = 0;
  const tags = {};
  if (line.startsWith("@")) {
    const end = line.indexOf(" ");
    if (end < 0) return null;
    for (const item of line.slice(1, end).split(";")) {
      if (item === "") continue;
      const eq = item.indexOf("=");
      const key = eq < 0 ? item : item.slice(0, eq);
      if (key === "") continue;
      tags[key] = eq < 0 ? "" : unescapeTag(item.slice(eq + 1));
    }
    pos = end + 1;
  }
  while (line[pos] === " ") pos++;
  let source = null;
  if (line[pos] === ":") {
    let end = line.indexOf(" ", pos);
    if (end < 0) return null;
    source = parseSource(line.slice(pos + 1, end));
    pos = end + 1;
  }
  const params = [];
  let command = null;
  while (pos < line.length) {
    while (line[pos] === " ") pos++;
    if (pos >= line.length) break;
    if (command !== null && line[pos] === ":") {
      params.push(line.slice(pos + 1));
      break;
    }
    let end = line.indexOf(" ", pos);
    if (end < 0) end = line.length;
    const word = line.slice(pos, end);
    if (command === null) command = word.toUpperCase();
    else params.push(word);
    pos = end;
  }
  if (command === null || command === "") return null;
  return { tags, source, command, params };
}

// nick!user@host into its parts; a server name is all nick (user and host are "").
export function parseSource(s) {
  let nick = s, user = "", host = "";
  const at = nick.indexOf("@");
  if (at >= 0) {
    host = nick.slice(at + 1);
    nick = nick.slice(0, at);
  }
  const bang = nick.indexOf("!");
  if (bang >= 0) {
    user = nick.slice(bang + 1);
    nick = nick.slice(0, bang);
  }
  return { raw: s, nick, user, host };
}

// A tag value as IRCv3 escapes it: \: ; \s space, \\ backslash, \r CR, \n LF; any other
// escaped character stands for itself, and a lone backslash at the end is dropped.
export function unescapeTag(v) {
  let out = "";
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (c !== "\\") {
      out += c;
      continue;
    }
    i++;
    if (i >= v.length) break;
    const e = v[i];
    out += e === ":" ? ";" : e === "s" ? " " : e === "r" ? "\r" : e === "n" ? "\n" : e;
  }
  return out;
}

// One line to send: the command and its parameters, the last one as a trailing parameter
// when it needs to be (empty, has a space, or starts with ':'). CR, LF and NUL never get
// into a line: a parameter is cut at the first of them. A middle parameter with a space or
// that starts with ':' is refused (it would change what the line means).
export function buildLine(command, ...params) {
  if (!/^[A-Za-z]+$|^[0-9]{3}$/.test(command)) throw new Error("bad IRC command: " + command);
  let line = command.toUpperCase();
  params.forEach((p, i) => {
    p = String(p);
    const cut = p.search(/[\r\n\0]/);
    if (cut >= 0) p = p.slice(0, cut);
    const last = i === params.length - 1;
    if (last && (p === "" || p.includes(" ") || p.startsWith(":"))) {
      line += " :" + p;
    } else {
      if (p === "" || p.includes(" ") || p.startsWith(":"))
        throw new Error("bad middle parameter: " + JSON.stringify(p));
      line += " " + p;
    }
  });
  return line;
}

// Case folding for nicks and channel names. uvchat compares ASCII case-insensitively
// (CASEMAPPING=ascii); "rfc1459" also folds []\~ into {}|^.
export function fold(s, casemapping = "ascii") {
  let out = s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  if (casemapping === "rfc1459" || casemapping === "strict-rfc1459") {
    out = out.replace(/[[\]\\]/g, (c) => ({ "[": "{", "]": "}", "\\": "|" })[c]);
    if (casemapping === "rfc1459") out = out.replace(/~/g, "^");
  }
  return out;
}

export function isChannel(name, chantypes = "#") {
  return name.length > 0 && chantypes.includes(name[0]);
}

// A nick uvchat accepts: 1 to `max` letters, digits or - _ [ ] \ ` ^ { } |, not starting with
// a digit or '-'.
export function isValidNick(nick, max = 32) {
  return (
    typeof nick === "string" &&
    nick.length >= 1 &&
    nick.length <= max &&
    /^[A-Za-z_[\]\\`^{}|][A-Za-z0-9_[\]\\`^{}|-]*$/.test(nick)
  );
}

const encoder = new TextEncoder();

export function utf8Length(s) {
  return encoder.encode(s).length;
}

// text cut into pieces of at most maxBytes UTF-8 bytes each: after a space where there is
// one in the second half of a piece, never inside a character (a surrogate pair stays whole).
// Pieces do not begin with the space they were broken at. Empty text gives [].
export function splitText(text, maxBytes) {
  if (maxBytes < 4) throw new Error("maxBytes must be at least 4");
  const pieces = [];
  const chars = Array.from(text);
  let i = 0;
  while (i < chars.length) {
    let bytes = 0, j = i, lastSpace = -1;
    while (j < chars.length) {
      const n = utf8Length(chars[j]);
      if (bytes + n > maxBytes) break;
      if (chars[j] === " ") lastSpace = j;
      bytes += n;
      j++;
    }
    if (j < chars.length && chars[j] === " ") {
      pieces.push(chars.slice(i, j).join(""));
      i = j + 1;
    } else if (j < chars.length && lastSpace > i && lastSpace - i >= (j - i) / 2) {
      pieces.push(chars.slice(i, lastSpace).join(""));
      i = lastSpace + 1;
    } else {
      pieces.push(chars.slice(i, j).join(""));
      i = j;
    }
  }
  return pieces;
}

// The ISUPPORT (005) tokens of one line as key -> value ("" for a bare key; a negated key
// "-KEY" maps to null).
export function parseIsupport(params) {
  const out = {};
  // params: [me, tok, tok, ..., "are supported by this server"]
  for (const tok of params.slice(1, -1)) {
    if (tok.startsWith("-")) {
      out[tok.slice(1).toUpperCase()] = null;
      continue;
    }
    const eq = tok.indexOf("=");
    if (eq < 0) out[tok.toUpperCase()] = "";
    else out[tok.slice(0, eq).toUpperCase()] = tok.slice(eq + 1);
  }
  return out;
}

// PREFIX=(ov)@+ as [[mode, symbol], ...] in rank order; the IRC default without one.
export function parsePrefix(v) {
  const m = /^\(([^)]*)\)(.*)$/.exec(v || "");
  if (!m || m[1].length !== m[2].length) return [["o", "@"], ["v", "+"]];
  return Array.from(m[1]).map((c, i) => [c, m[2][i]]);
}
