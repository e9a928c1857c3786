// Who is using the page: every app starts with `const me = await signedIn()`. Not signed in →
// the sign-in page, which brings the person back here afterwards.
import { api, ApiError, signInPage } from "./api.js";
import { setZone } from "./time.js";

export async function signedIn() {
  try {
    const me = await api.get("/api/v1/me");
    try {
      const site = await api.get("/api/v1/site");
      setZone(site.timezone);
      me.site = site;
    } catch {
      /* older servers: times stay in Asia/Shanghai */
    }
    return me;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) signInPage();
    throw err;
  }
}

export async function signOut() {
  try {
    await api.post("/api/v1/auth/sign-out", {});
  } finally {
    location.assign("/ui/signin.html");
  }
}

export function can(me, permission) {
  return Boolean(me.permissions && me.permissions[permission]);
}
