/* Shared by the console and the promoter page: the API call, DOM helpers, dates in pt-PT. */
"use strict";

const Staff = (() => {
  const DATE = new Intl.DateTimeFormat("pt-PT", {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
    timeZone: "Europe/Lisbon",
  });
  const TIME = new Intl.DateTimeFormat("pt-PT", {
    hour: "2-digit", minute: "2-digit", timeZone: "Europe/Lisbon",
  });

  class ApiFailure extends Error {
    constructor(status, body) {
      const fields = body && Array.isArray(body.errors)
        ? body.errors.map((e) => e.message).filter(Boolean).join(" ") : "";
      super([(body && (body.error || body.message)) || "Ocorreu um erro. Tenta de novo.", fields]
        .filter(Boolean).join(" "));
      this.status = status;
      this.code = body && body.code;
      this.body = body;
    }
  }

  // One call to the API: JSON in and out, the staff cookie sent (same origin).
  async function api(method, path, body) {
    const init = { method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiFailure(0, { message: "Sem ligação. Verifica a rede e tenta de novo." });
    }
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      throw new ApiFailure(response.status, data);
    }
    return data;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function $(id) { return document.getElementById(id); }

  function show(id, text) {
    const box = $(id);
    box.textContent = text || "";
    box.hidden = !text;
  }

  function date(value) { return value ? DATE.format(new Date(value)) : "—"; }
  function time(value) { return value ? TIME.format(new Date(value)) : "—"; }

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (e) {
      return false;
    }
  }

  return { api, el, $, show, date, time, copy, ApiFailure };
})();
