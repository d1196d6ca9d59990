// The service's JSON API as the page calls it.
//
// Why one place: every number on the page comes from the service's own endpoints, so the page
// cannot disagree with the API or the CLI; here they are called the same way everywhere. The
// API key (when the service needs one) lives in sessionStorage and goes out as the X-API-Key
// header; it never appears in a URL or a cookie.

export const KEY_STORE = "retain.apiKey";
const KEY_HEADER = "X-API-Key";
export const WAITING_FOR_KEY = "Waiting for a valid API key (see above).";

export class AuthError extends Error {}

// The API lives beside /ui/, wherever the service is mounted.
const apiUrl = (name) => new URL(`../${name}`, document.baseURI).toString();

export async function call(name, body) {
  const headers = { "Content-Type": "application/json" };
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) headers[KEY_HEADER] = key;
  const response = await fetch(apiUrl(name), {
    method: "POST", headers, body: JSON.stringify(body ?? {}), cache: "no-store",
  });
  if (response.status === 401) {
    throw new AuthError(key
      ? "The API key was not accepted. Check it and press “Use key”."
      : "This service needs an API key. Enter it above and press “Use key”.");
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const answer = await response.json();
      message = describeDetail(answer.detail) || answer.error || message;
    } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

export const callJson = async (name, body) => (await call(name, body)).json();

// BentoML's validation errors carry pydantic's list of problems as `detail`.
function describeDetail(detail) {
  if (typeof detail === "string") return detail;
  if (!Array.isArray(detail)) return "";
  return detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`)
    .join("; ");
}

export function showAuth(message) {
  const alert = document.querySelector("#auth-message");
  Object.assign(alert, { textContent: message || "", hidden: !message });
}

// What a status line says when a read failed: wait for the key, or why it failed.
export function failure(error, what, verb = "loaded") {
  if (error instanceof AuthError) {
    showAuth(error.message);
    return WAITING_FOR_KEY;
  }
  return `The ${what} could not be ${verb}: ${error.message}`;
}

export const stateOf = (error) => (error instanceof AuthError ? "auth" : "error");

// Newer requests win. Each view takes a turn before it calls the API and drops the answer if a
// newer turn was taken meanwhile: answers can come back out of order (a second "Use key" press,
// filters changed fast), and a late answer, or a late 401 for a key already replaced, must not
// overwrite what a newer request put on screen.
export function turns() {
  let latest = 0;
  return () => {
    const mine = ++latest;
    return () => mine === latest;
  };
}
