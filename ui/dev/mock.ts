// Dev harness: the real UI over the fake backend, for `npm run dev` and
// screenshots (http://localhost:1420/dev/mock.html?lang=en&firstrun&notfound&slow).
// Not part of the production build.
import "../src/styles.css";
import { App } from "../src/app";
import type { AskEvent } from "../src/ipc/types";
import { answer, ANSWER_TEXT, FakeBackend, notFoundAnswer, RECEIPTS, sources } from "./fakeBackend";

const params = new URLSearchParams(location.search);
const fake = new FakeBackend();
if (params.has("lang")) fake.status.settings.ui_language = params.get("lang") === "en" ? "en" : "ko";
if (params.has("firstrun")) fake.status.model = { state: "none", name: null, error: null };
const slow = params.has("slow");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

fake.ask = async (args, emit: (e: AskEvent) => void) => {
  const id = fake.conversationFor(args);
  if (params.has("notfound")) {
    emit({ event: "done", data: { answer: notFoundAnswer(), conversation_id: id } });
    return { conversation_id: id };
  }
  emit({ event: "evidence", data: { sources: sources(), quotes: answer().quotes } });
  await sleep(slow ? 600 : 50);
  for (const piece of ANSWER_TEXT.match(/.{1,3}/gsu) ?? []) {
    emit({ event: "token", data: { text: piece, sent_at_ms: Date.now() } });
    await sleep(slow ? 60 : 5);
  }
  emit({ event: "receipts", data: RECEIPTS });
  emit({ event: "done", data: { answer: answer({ question: String(args.question) }), conversation_id: id } });
  return { conversation_id: id };
};
fake.install();

const root = document.getElementById("app")!;
const app = new App(root);
void app.start().then(async () => {
  const q = params.get("ask");
  if (q) {
    app.chat.send(q);
    await sleep(400);
    if (params.has("source")) app.openSource({ path: sources()[0]!.path, page: 12, span: sources()[0]!.span });
  }
  const screen = params.get("screen");
  if (screen === "library" || screen === "models" || screen === "settings") app.navigate(screen);
  if (screen === "library" && params.has("files")) {
    (root.querySelector('[data-testid="collection-row"] .collection-open') as HTMLElement | null)?.click();
    const input = root.querySelector('[data-testid="search-input"]') as HTMLInputElement;
    input.value = "암로디핀";
    input.dispatchEvent(new Event("input"));
  }
});
