// The guide shown on the chat screen while no chat model is installed.
import type { App } from "../app";
import { h, icon } from "../dom";
import { t } from "../i18n";
import { button } from "./common";
import { importCard, ingestStatus } from "./jobsView";

export function renderFirstRun(app: App): HTMLElement {
  const sample = app.status?.sample_library ?? null;
  return h(
    "section",
    { class: "first-run", testid: "first-run", "aria-labelledby": "first-run-title" },
    h("h2", { id: "first-run-title" }, t("firstRun.title")),
    h("p", { class: "lead" }, t("firstRun.body")),
    h(
      "ol",
      { class: "steps" },
      h("li", null, t("firstRun.step1")),
      h("li", null, t("firstRun.step2")),
      h("li", null, t("firstRun.step3")),
    ),
    importCard(app),
    sample
      ? h(
          "div",
          { class: "sample-card" },
          h("div", { class: "sample-text" }, h("h3", null, t("firstRun.sampleTitle")), h("p", { class: "muted" }, t("library.sampleBody"))),
          button(
            t("library.sample"),
            async () => {
              const report = await app.ingestJob.add("samples", sample);
              if (report) app.toast(t("firstRun.sampleAdded"));
              await app.refreshCollections();
            },
            { icon: "library", testid: "add-sample-library", disabled: app.ingestJob.busy },
          ),
          ingestStatus(app),
        )
      : null,
    h("p", { class: "note note-info" }, icon("info"), h("span", null, t("firstRun.searchWithout"))),
  );
}
