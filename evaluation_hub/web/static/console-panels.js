// The host console's panels (评审控制台): each draws one of the hub's answers as it is, loaded
// before console.js, which reads the answers, keeps the drafts and acts (see its header).
"use strict";

function fact(term, value) {
  return [el("dt", { textContent: term }), el("dd", { textContent: value })];
}

function drawPackage(overview, report) {
  const attached = Boolean(report);
  $("#import-report").hidden = !attached;
  $("#no-package").hidden = attached;
  $("#attach-form").hidden = attached || !may.run_evaluation;
  if (!attached) return;
  $("#report-facts").replaceChildren(
    ...fact("项目", `${report.project.name}（${report.project.code}）`),
    ...fact("标段", `${report.section.name}（${report.section.code}）`),
    ...fact("评标办法", report.method),
    ...fact("投标人", `${report.bidders.length} 家：${report.bidders.join("、")}`),
    ...fact("评分部分", report.parts.map((p) => `${p.name}（${p.items} 项）`).join("、")),
    ...fact("标书包目录", report.source_path),
    ...fact("内容摘要", report.content_digest),
    ...fact("导入", `${report.attached_by}，${beijingText(report.attached_at)}`),
    ...fact("错位评审种子承诺值", report.seed_commitment));
  drawAnonymity(overview, report);
  drawSimilarity(report);
}

// Where a mark is and what kind, never its text (the text is the bidder's identity).
function findingText(f) {
  const size = f.length ? `，${f.length} 字` : "";
  const evaded = f.evasion ? "，经归一化后识别（疑似规避）" : "";
  // Another bidder's name in this bidder's chapter is worth a look of its own (串标 signal).
  const owner = f.owner_id && f.owner_id !== f.bidder_id ? `，属于另一投标人 ${f.owner_id}` : "";
  return `${f.kind_name}（第 ${f.line} 行第 ${f.column} 列${size}${evaded}${owner}）`;
}

function drawAnonymity(overview, report) {
  const findings = overview ? overview.anonymity.findings : [];
  const overrides = overview ? overview.anonymity.overrides : [];
  const blocked = overview ? Object.keys(overview.anonymity.blocked) : [];
  const flagged = report.anonymity.flagged_chapters;
  $("#anonymity-summary").textContent = flagged.length === 0
    ? "未发现识别标记。"
    : `发现 ${report.anonymity.findings} 处识别标记，涉及 ${flagged.length} 个章节；`
      + (blocked.length ? `尚有 ${blocked.length} 个章节未记录放行理由，放行前不能向专家发放章节。` : "均已记录放行理由。");
  $("#flagged").hidden = flagged.length === 0;
  $("#flagged tbody").replaceChildren(...flagged.map((key) => {
    const [bidder, chapter] = key.split("/");
    const marks = findings.filter((f) => f.bidder_id === bidder && f.chapter_id === chapter)
      .map(findingText).join("、");
    const override = overrides.find((o) => o.bidder_id === bidder && o.chapter_id === chapter);
    let release;
    if (override) {
      release = el("td", { class: "released",
        textContent: `已放行：${override.reason}（${override.recorded_by}，${beijingText(override.recorded_at)}）` });
    } else if (may.run_evaluation) {
      const reason = draftField(`override:${key}`, { class: "wide", maxLength: 2000, placeholder: "放行理由（必填）" });
      const button = el("button", { type: "button", textContent: "记录放行理由", "data-override": key });
      button.addEventListener("click", () => recordOverride(bidder, chapter, key));
      release = el("td", {}, el("div", { class: "buttons" }, reason, button));
    } else {
      release = el("td", { class: "blocked", textContent: "未放行" });
    }
    return el("tr", { "data-chapter": key }, el("td", { textContent: key }), el("td", { textContent: marks }), release);
  }));
}

function drawSimilarity(report) {
  const pairs = report.similarity;
  $("#similarity").hidden = !pairs || pairs.length === 0;
  if (pairs === null) {
    $("#similarity-summary").textContent = "导入时未进行雷同检查。";
  } else if (pairs.length === 0) {
    $("#similarity-summary").textContent = "未发现相似程度达到提示标准的章节。";
  } else {
    $("#similarity-summary").textContent = `${pairs.length} 对投标人的章节相似程度达到提示标准，请评标委员会和监督人员关注。`;
  }
  const names = Object.fromEntries(report.parts.map((p) => [p.id, p.name]));
  $("#similarity tbody").replaceChildren(...(pairs || []).map((p) => el("tr", {},
    el("td", { textContent: names[p.chapter_id] || p.chapter_id }),
    el("td", { textContent: `${p.bidder_a} 与 ${p.bidder_b}` }),
    el("td", { textContent: p.jaccard.toFixed(2) }),
    el("td", { textContent: p.containment.toFixed(2) }),
    el("td", { textContent: p.passages ? `${p.passages} 处，最长 ${p.longest_passage} 字` : "—" }))));
}

function deliveryNote(seat) {
  if (!seat.seated) return "该工位已不再安排本评标会的专家";
  if (seat.status === "skipped") return seat.skipped;
  if (seat.status === "failed") return `无法打开：${seat.failed.join("、")}`;
  const steps = [["verified_at", "校验完成"], ["received_at", "全部数据已送出"], ["sent_at", "清单已送出"],
                 ["released_at", "已准备，等待工位连接"]];
  const step = steps.find(([key]) => seat[key]);
  return step ? `${beijingText(seat[step[0]])} ${step[1]}` : "";
}

function drawDelivery(board) {
  $("#release").hidden = !may.release_chapters;
  $("#release").textContent = board.releases ? "重新发放章节" : "发放章节";
  const verified = board.seats.filter((s) => s.status === "verified").length;
  $("#delivery-summary").textContent = board.releases === 0
    ? "尚未发放章节。"
    : `已发放 ${board.releases} 次；${board.seats.length} 个工位中 ${verified} 个已校验全部章节。`;
  $("#deliveries tbody").replaceChildren(...board.seats.map((s) => el("tr", { "data-seat": s.seat_key, class: s.status },
    el("td", { textContent: s.venue_name ? `${s.seat_key}（${s.venue_name}）` : s.seat_key }),
    el("td", { textContent: s.expert }),
    el("td", { textContent: s.seated ? (s.checked_in ? "已签到" : "未签到") : "—" }),
    el("td", { textContent: s.release ? `第 ${s.release} 次` : "—" }),
    el("td", { textContent: s.release ? String(s.chapters) : "—" }),
    el("td", { class: "status", textContent: s.status_name }),
    el("td", { textContent: deliveryNote(s) }))));
}

function partNames(overview, report) {
  const names = Object.fromEntries((report ? report.parts : []).map((p) => [p.id, p.name]));
  return (part) => names[part] || part;
}

function refusalText(r) {
  return r.problems.length ? r.problems.join("；") : r.code;
}

function drawScoring(overview, report) {
  $("#scoring-panel").hidden = !overview;
  if (!overview) return;
  const parts = overview.package.parts;
  const name = partNames(overview, report);
  const refused = new Map();  // "expert part" → the latest refusal
  for (const r of overview.scoring.refused) refused.set(`${r.expert} ${r.part}`, r);
  let saved = 0;
  $("#board thead tr").replaceChildren(el("th", { textContent: "专家" }),
    ...parts.map((p) => el("th", { textContent: name(p) })));
  $("#board tbody").replaceChildren(...overview.scoring.experts.map((e) => el("tr", { "data-expert": e.expert },
    el("th", { textContent: e.expert }),
    ...parts.map((p) => {
      const refusal = refused.get(`${e.expert} ${p}`);
      let text = "未开始";
      let state = "not-started";
      if (e.scored_parts.includes(p)) {
        text = "已保存";
        state = "saved";
        saved += 1;
      } else if (refusal) {
        text = `未被接受：${refusalText(refusal)}`;
        state = "refused";
      }
      return el("td", { class: state, "data-part": p, textContent: text });
    }))));
  const complete = overview.scoring.experts.filter((e) => e.complete).length;
  $("#scoring-summary").textContent = `已保存 ${saved}/${overview.scoring.experts.length * parts.length} 个部分；`
    + `${overview.scoring.experts.length} 位专家中 ${complete} 位已提交全部评分。`;
  const rows = overview.scoring.refused;
  $("#refused").hidden = rows.length === 0;
  $("#no-refused").hidden = rows.length > 0;
  $("#refused tbody").replaceChildren(...rows.map((r) => el("tr", {},
    el("td", { textContent: beijingText(r.received_at) }),
    el("td", { textContent: r.expert || "—" }),
    el("td", { textContent: r.part ? name(r.part) : "—" }),
    el("td", { textContent: SOURCE_NAMES[r.source] || r.source }),
    el("td", { textContent: refusalText(r) }))));
}

function drawReview(overview, report, lifecycle) {
  $("#review-panel").hidden = !overview;
  if (!overview) return;
  const inReview = lifecycle.state === "deviation_review";
  $("#review-round").hidden = !(may.run_evaluation && inReview);
  const requests = overview.review.requests;
  const notices = requests.filter((r) => r.informational && !r.answer).length;
  const closed = requests.filter((r) => r.answer).length;
  const open = requests.length - closed - notices;
  $("#review-summary").textContent = requests.length === 0
    ? "尚无复核请求。"
    : `共 ${requests.length} 项复核请求：已答复或已关闭 ${closed} 项，待答复 ${open} 项`
      + (notices ? `，仅告知 ${notices} 项。` : "。");
  $("#requests").hidden = requests.length === 0;
  const name = partNames(overview, report);
  $("#requests tbody").replaceChildren(...requests.map((r) => el("tr", { "data-request": String(r.id) },
    el("td", { textContent: `#${r.id}` }),
    el("td", { textContent: `第 ${r.round} 轮` }),
    el("td", { textContent: r.expert }),
    el("td", { textContent: name(r.part) }),
    el("td", { textContent: r.subject }),
    el("td", { textContent: r.item || "合计" }),
    el("td", { textContent: r.message }),
    el("td", { class: "answer", textContent: answerText(r) }),
    el("td", { class: "answer-reason", textContent: r.answer_reason }),
    el("td", {}, ...answerControls(r, inReview)))));
}

// The answer as recorded, and who gave it: the expert's seat, or the host for them (代录).
function answerText(r) {
  if (!r.answer) return r.informational ? "仅告知，无需答复" : "待答复";
  const name = ANSWER_NAMES[r.answer] || r.answer;
  if (r.answer === "settled" || !r.answered_by) return name;
  return r.answered_by.startsWith("seat:") ? `${name}（工位答复）` : `${name}（主场代录：${r.answered_by}）`;
}

function answerControls(r, inReview) {
  if (r.answer || r.informational || !inReview || !may.run_evaluation) return [];
  const reason = draftField(`answer:${r.id}`, { maxLength: 2000, placeholder: "理由（保留原评分时必填）" });
  const buttons = ["keep", "revise"].map((answer) => {
    const button = el("button", { type: "button", textContent: ANSWER_NAMES[answer], "data-answer": answer });
    button.addEventListener("click", () => answerRequest(r.id, answer));
    return button;
  });
  return [el("div", { class: "buttons" }, reason, ...buttons)];
}

function drawResult(result) {
  $("#result-panel").hidden = !result;
  if (!result) return;
  const doc = result.result;
  const bidderName = (id) => (result.bidders[id] || {}).name || "";
  $("#seed").textContent = `解密还原公开的种子：${result.revealed_seed}；导入时的承诺值：${result.seed_commitment}`;
  $("#benchmark").textContent = `评标基准价：${doc.benchmark_price} 元`;
  $("#ranking tbody").replaceChildren(...doc.ranking.map((r) => el("tr", { "data-bidder": r.bidder },
    el("td", { textContent: r.tied ? `${r.rank}（并列）` : String(r.rank) }),
    el("td", { textContent: r.bidder }),
    el("td", { textContent: bidderName(r.bidder) }),
    el("td", { textContent: r.technical }),
    el("td", { textContent: r.commercial }),
    el("td", { textContent: r.price }),
    el("td", { textContent: r.price_score }),
    el("td", { textContent: r.composite }))));
  $("#candidates").textContent = doc.candidates.length
    ? `中标候选人：${doc.candidates.map((b, i) => `第 ${i + 1} 名 ${b} ${bidderName(b)}`).join("；")}`
    : "无中标候选人。";
  $("#report-link").href = `${evaluationPath(result.session_id)}/report`;
}

function signatureText(x) {
  if (x.decision === "agree") return "同意";
  if (x.decision === "disagree") return "不同意";
  return x.counted_as_agreement ? "拒绝签字（未说明理由，视为同意）" : "拒绝签字";
}

function drawSignatures(overview, result, lifecycle) {
  $("#signature-panel").hidden = !result;
  if (!result) return;
  const signed = Object.fromEntries(overview.signatures.map((x) => [x.expert, x]));
  const members = overview.package.experts;
  const count = members.filter((e) => signed[e]).length;
  $("#signature-summary").textContent = lifecycle.state === "revealed"
    ? `已签署 ${count}/${members.length} 人，全部签署后评标报告即签署完成。`
    : `已签署 ${count}/${members.length} 人。`;
  const final = REPORT_FINAL.includes(lifecycle.state);
  $("#report-pdf").hidden = !final;
  if (final) $("#report-pdf-link").href = `/api/sessions/${result.session_id}/report.pdf`;
  else $("#report-pdf-link").removeAttribute("href");
  $("#signatures tbody").replaceChildren(...members.map((e) => {
    const x = signed[e];
    return el("tr", { "data-expert": e, class: x ? "signed" : "unsigned" },
      el("td", { textContent: e }),
      el("td", { class: "decision", textContent: x ? signatureText(x) : "未签署" }),
      el("td", { textContent: x ? x.reason : "" }),
      el("td", { textContent: x ? beijingText(x.signed_at) : "" }));
  }));
}
