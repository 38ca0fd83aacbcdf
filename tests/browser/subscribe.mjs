// Fills in and submits the subscribe form on BASE_URL/ in headless Chromium, then checks that the
// browser lands on the success page. Prints one JSON line; exits non-zero on any failure.
//
// usage: node subscribe.mjs BASE_URL EMAIL USER_DATA_DIR
import { chromium } from "playwright-core";

const [baseUrl, email, userDataDir] = process.argv.slice(2);
if (!baseUrl || !email || !userDataDir) {
  console.error("usage: node subscribe.mjs BASE_URL EMAIL USER_DATA_DIR");
  process.exit(2);
}

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  timeout: 60_000,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  await page.goto(`${baseUrl}/`);
  await page.fill("#email", email);
  await Promise.all([
    page.waitForURL(`${baseUrl}/subscribed.html`),
    page.click("button[type=submit]"),
  ]);
  const heading = await page.textContent("h1");
  console.log(JSON.stringify({ url: page.url(), heading }));
} finally {
  await context.close();
}
