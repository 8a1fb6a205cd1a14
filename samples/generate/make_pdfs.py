"""Build the sample PDFs (all with a real text layer).

Korean text uses two kinds of font so that a parser meets both in the sample library:
- reportlab's built-in CID fonts (HYGothic-Medium, HYSMyeongJo-Medium): not embedded, Type0
  with the predefined CMap UniKS-UCS2-H and *no* /ToUnicode map;
- NanumGothic (Debian package fonts-nanum, SIL OFL 1.1), embedded as a TrueType subset
  with a /ToUnicode map — the common case for Korean PDFs exported by office software.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from reportlab import rl_config

rl_config.invariant = 1  # fixed /ID and dates: byte-identical rebuilds

from reportlab.lib import colors  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.styles import ParagraphStyle  # noqa: E402
from reportlab.lib.units import mm  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # noqa: E402
from reportlab.pdfbase.ttfonts import TTFont  # noqa: E402
from reportlab.platypus import (  # noqa: E402
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from common import LIB, out  # noqa: E402

# check.py sets this to False to collect SOURCES without writing files.
WRITE = True

NANUM_DIR = Path("/usr/share/fonts/truetype/nanum")


def register_fonts() -> None:
    pdfmetrics.registerFont(UnicodeCIDFont("HYGothic-Medium"))
    pdfmetrics.registerFont(UnicodeCIDFont("HYSMyeongJo-Medium"))
    regular = NANUM_DIR / "NanumGothic.ttf"
    bold = NANUM_DIR / "NanumGothicBold.ttf"
    if not regular.exists() or not bold.exists():
        raise SystemExit(
            f"missing {regular} / {bold}: install the Debian package fonts-nanum "
            "(apt-get install fonts-nanum)"
        )
    pdfmetrics.registerFont(TTFont("NanumGothic", str(regular)))
    pdfmetrics.registerFont(TTFont("NanumGothic-Bold", str(bold)))


def styles(font: str, bold: str):
    return {
        "title": ParagraphStyle("title", fontName=bold, fontSize=15, leading=20, spaceAfter=6),
        "h": ParagraphStyle("h", fontName=bold, fontSize=11.5, leading=16, spaceBefore=8, spaceAfter=3),
        "p": ParagraphStyle("p", fontName=font, fontSize=10, leading=15, spaceAfter=2),
        "li": ParagraphStyle("li", fontName=font, fontSize=10, leading=15, leftIndent=12, spaceAfter=1),
        "small": ParagraphStyle("small", fontName=font, fontSize=8.5, leading=12, textColor=colors.HexColor("#555555")),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=9, leading=12),
        "cellh": ParagraphStyle("cellh", fontName=bold, fontSize=9, leading=12),
    }


def build(rel: str, items: list, *, font: str, bold: str, title: str, author: str = "Sillok sample generator") -> Path:
    """items: (kind, payload) with kind in title|h|p|li|small|raw|table|break|space."""
    SOURCES[rel] = items
    if not WRITE:
        return LIB / rel
    path = out(rel)
    st = styles(font, bold)
    story = []
    for kind, *payload in items:
        if kind == "break":
            story.append(PageBreak())
        elif kind == "space":
            story.append(Spacer(1, payload[0] * mm))
        elif kind == "raw":  # payload is already reportlab paragraph markup
            story.append(Paragraph(payload[0], st["p"]))
        elif kind == "table":
            rows, widths = payload
            data = [
                [Paragraph(escape(str(c)), st["cellh" if r == 0 else "cell"]) for c in row]
                for r, row in enumerate(rows)
            ]
            table = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
            table.setStyle(
                TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
            )
            story.append(table)
            story.append(Spacer(1, 2 * mm))
        else:
            story.append(Paragraph(escape(payload[0]), st[kind]))

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"Sillok sample library - page {doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=title,
        author=author,
        subject="Synthetic document for the Sillok sample library",
        creator="samples/generate/make_pdfs.py",
        invariant=1,
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return path


# ---------------------------------------------------------------------------------------------
# patients/note-kim-htn-2024-03.pdf — Korean, 2 pages, CID font HYGothic-Medium.
# Wording rule for this file: the bare word "혈압" never stands alone (only 고혈압, 가정혈압,
# 진료실혈압, 목표혈압, 혈압이, 혈압약을 ...) so Korean-analyzer tests can rely on it.
def kim_htn() -> Path:
    items = [
        ("small", "실록 샘플 라이브러리 — 가상 환자 기록 (실제 환자 아님). 이름과 번호는 모두 지어낸 것입니다."),
        ("title", "외래 진료기록 (내과)"),
        ("p", "환자: 김가상 (남, 58세)   등록번호: SAMPLE-0001   진료일: 2024-03-12   담당의: 이의사 (가상)"),
        ("h", "주호소"),
        ("p", "2개월 전부터 아침 두통이 있고 가정혈압이 높게 나옴."),
        ("h", "현병력"),
        ("p", "2024년 2월 건강검진에서 혈압이 156/98 mmHg로 높다는 말을 들음. 7일 동안 잰 가정혈압 평균은 "
              "148/92 mmHg. 흡연 20갑년(2019년 금연). 음주 주 2회, 소주 1병."),
        ("h", "과거력"),
        ("p", "이상지질혈증(치료하지 않음). 당뇨병 없음. 약물 알레르기 없음."),
        ("h", "진찰"),
        ("p", "진료실혈압 152/94 mmHg (5분 안정 후 2회 측정 평균), 맥박 78회/분, 체중 82 kg, 키 172 cm, "
              "체질량지수 27.7 kg/m²."),
        ("h", "검사 (2024-03-12)"),
        ("table", [
            ["항목", "결과", "단위"],
            ["크레아티닌", "0.9", "mg/dL"],
            ["eGFR", "92", "mL/min/1.73m²"],
            ["칼륨", "4.2", "mmol/L"],
            ["공복혈당", "98", "mg/dL"],
            ["LDL 콜레스테롤", "142", "mg/dL"],
            ["요단백", "음성", "-"],
            ["심전도", "정상 동리듬", "-"],
        ], [60, 45, 45]),
        ("h", "평가"),
        ("p", "고혈압 (새로 진단, 진료실혈압 152/94 mmHg). 표적장기 손상 소견 없음."),
        ("h", "계획"),
        ("li", "1. 목표혈압: 130/80 mmHg 미만 (진료실혈압과 가정혈압 모두)."),
        ("li", "2. 암로디핀 5 mg 1일 1회 아침 복용을 시작한다 (160/100 mmHg 미만이므로 한 가지 약으로 시작)."),
        ("li", "3. 생활요법: 나트륨 하루 2 g 미만(소금 약 5 g), 주 150분 유산소 운동, 체중 5 kg 감량 목표."),
        ("li", "4. 베타차단제는 적응증이 없으므로 1차 약제로 쓰지 않는다."),
        ("li", "5. 4주 후 재진. 가정혈압 기록지를 가져오도록 설명함."),
        ("break",),
        ("small", "실록 샘플 라이브러리 — 가상 환자 기록 (실제 환자 아님)."),
        ("title", "경과기록 (재진)"),
        ("p", "환자: 김가상 (남, 58세)   등록번호: SAMPLE-0001   진료일: 2024-04-09"),
        ("h", "S (주관적 소견)"),
        ("p", "두통은 좋아짐. 발목 부종 없음. 약은 빠짐없이 복용함."),
        ("h", "O (객관적 소견)"),
        ("p", "14일 동안 잰 가정혈압 평균 138/86 mmHg, 진료실혈압 140/88 mmHg, 맥박 74회/분. "
              "칼륨 4.4 mmol/L, 크레아티닌 0.9 mg/dL."),
        ("h", "A (평가)"),
        ("p", "목표혈압(130/80 mmHg 미만)에 도달하지 못함."),
        ("h", "P (계획)"),
        ("li", "1. 혈압약을 하나 더한다: 로사르탄 50 mg 1일 1회를 추가하고, 암로디핀 5 mg 1일 1회는 유지한다."),
        ("li", "2. 2주 후(2024-04-23) 칼륨과 크레아티닌을 다시 검사한다."),
        ("li", "3. 리시노프릴 등 ACE 억제제를 로사르탄과 함께 쓰지 않는다."),
        ("li", "4. 두통이 심해지거나 가정혈압이 180/110 mmHg 이상이면 바로 응급실로 온다."),
        ("p", "다음 진료: 2024-05-07"),
    ]
    return build("patients/note-kim-htn-2024-03.pdf", items, font="HYGothic-Medium",
                 bold="HYGothic-Medium", title="외래 진료기록 - 김가상 (가상 환자)")


# ---------------------------------------------------------------------------------------------
# patients/discharge-park-ckd-2024-06.pdf — Korean with English terms, embedded NanumGothic.
def park_ckd() -> Path:
    items = [
        ("small", "실록 샘플 라이브러리 — 가상 환자 기록 (실제 환자 아님) / Sillok sample library - synthetic record"),
        ("title", "퇴원요약 (Discharge Summary) — 신장내과"),
        ("table", [
            ["환자", "등록번호", "입원일", "퇴원일"],
            ["박가상 (남, 71세)", "SAMPLE-0004", "2024-06-03", "2024-06-08"],
        ], [45, 40, 40, 40]),
        ("h", "입원 사유 (Reason for admission)"),
        ("p", "만성콩팥병 3b기에 동반한 급성 신손상 (AKI on CKD stage 3b). 무릎 통증으로 이부프로펜(ibuprofen) "
              "400 mg 1일 3회를 10일간 복용한 뒤 크레아티닌이 2.6 mg/dL(기저 1.7 mg/dL), 칼륨이 5.8 mmol/L로 "
              "올라 입원함."),
        ("h", "입원 경과 (Hospital course)"),
        ("p", "이부프로펜을 끊고 수액 치료와 칼륨 교정을 하였다. 로사르탄은 입원 중 중단하였다. 퇴원 시 "
              "크레아티닌 1.8 mg/dL, eGFR 36 mL/min/1.73m², 칼륨 5.0 mmol/L."),
        ("h", "퇴원 진단 (Discharge diagnoses)"),
        ("li", "1. 급성 신손상 (NSAID 관련), 회복 중"),
        ("li", "2. 만성콩팥병 3b기 (CKD stage 3b)"),
        ("li", "3. 고혈압"),
        ("h", "퇴원 약 (Discharge medications)"),
        ("table", [
            ["약물", "Drug", "용법", "비고"],
            ["다파글리플로진", "dapagliflozin", "10 mg 1일 1회", "계속"],
            ["암로디핀", "amlodipine", "10 mg 1일 1회", "계속"],
            ["아세트아미노펜", "acetaminophen", "650 mg 필요 시", "하루 최대 3 g"],
            ["로사르탄", "losartan", "중단 (hold)", "외래에서 칼륨 확인 후 재개 여부 결정"],
        ], [38, 35, 40, 60]),
        ("h", "퇴원 지시 (Instructions)"),
        ("li", "• 이부프로펜, 나프록센 등 NSAIDs를 투여하지 않는다. (Do not give NSAIDs such as ibuprofen or naproxen.)"),
        ("li", "• 무릎 통증에는 아세트아미노펜을 쓰고, 하루 3 g을 넘기지 않는다."),
        ("li", "• 칼륨이 많은 음식(바나나, 감자, 토마토 등)을 줄인다."),
        ("li", "• 조영제를 쓰는 검사 전에는 신장내과와 상의한다."),
        ("h", "추적 관찰 (Follow-up)"),
        ("p", "2024-06-15 신장내과 외래: 크레아티닌, 칼륨 재검."),
    ]
    return build("patients/discharge-park-ckd-2024-06.pdf", items, font="NanumGothic",
                 bold="NanumGothic-Bold", title="퇴원요약 - 박가상 (가상 환자)")


# ---------------------------------------------------------------------------------------------
# patients/progress-note-yoon-htn-dm-2024-09.pdf — English note (Helvetica) with a Korean name
# (HYGothic-Medium), as Korean hospitals often chart in English.
def yoon_htn_dm() -> Path:
    name = '<font name="HYGothic-Medium">윤가상</font>'
    items = [
        ("small", "Sillok sample library - synthetic record, not a real patient. Names and IDs are fictional."),
        ("title", "PROGRESS NOTE - INTERNAL MEDICINE"),
        ("raw", f"Patient: {name} (Yoon Ga-sang), M/66    MRN: SAMPLE-0012    Date: 2024-09-10"),
        ("h", "Subjective"),
        ("p", "Follow-up of hypertension and type 2 diabetes. Home BP 142-150/86-90 mmHg over 2 weeks. "
              "No chest pain, no dyspnoea. Takes amlodipine 5 mg once daily and metformin 500 mg twice daily."),
        ("h", "Objective"),
        ("p", "Office BP 146/88 mmHg (average of 2 readings), HR 76 bpm, weight 77 kg. No oedema."),
        ("table", [
            ["Test (2024-09-03)", "Result", "Unit"],
            ["HbA1c", "7.4", "%"],
            ["Creatinine", "1.1", "mg/dL"],
            ["eGFR", "71", "mL/min/1.73m2"],
            ["Potassium", "4.6", "mmol/L"],
            ["Urine albumin/creatinine ratio", "120", "mg/g"],
        ], [70, 35, 45]),
        ("h", "Assessment"),
        ("li", "1. Hypertension above target (goal < 130/80 mmHg)."),
        ("li", "2. Type 2 diabetes with moderately increased albuminuria (UACR 120 mg/g)."),
        ("h", "Plan"),
        ("li", "1. Add lisinopril 10 mg once daily (ACE inhibitor for albuminuria). Continue amlodipine 5 mg once daily."),
        ("li", "2. Target BP < 130/80 mmHg."),
        ("li", "3. Do not combine lisinopril with losartan or any other ARB (dual RAS blockade)."),
        ("li", "4. Check potassium and creatinine in 2 weeks (2024-09-24). Stop lisinopril if potassium "
               "> 5.5 mmol/L or creatinine rises by more than 30%."),
        ("li", "5. Angioedema warning given: stop lisinopril and go to the emergency department if the lips, "
               "tongue or throat swell."),
        ("li", "6. Continue metformin 500 mg twice daily; HbA1c goal < 7.0%."),
        ("p", "Next visit: 2024-10-08."),
    ]
    return build("patients/progress-note-yoon-htn-dm-2024-09.pdf", items, font="Helvetica",
                 bold="Helvetica-Bold", title="Progress note - Yoon Ga-sang (synthetic)")


# ---------------------------------------------------------------------------------------------
# guidelines/hypertension-guideline-ko.pdf — Korean, 2 pages, CID font HYSMyeongJo-Medium.
def guideline_ko() -> Path:
    items = [
        ("title", "고혈압 진료지침 요약 (실록 샘플 지침 v1.0, 2024)"),
        ("small", "이 문서는 실록 샘플 라이브러리의 시연을 위해 작성한 요약이며 공식 진료지침이 아닙니다. "
                  "환자 진료에 사용하지 마십시오. 같은 내용의 영어판은 hypertension-guideline-en.md 입니다."),
        ("h", "1. 진단"),
        ("li", "• 두 번 이상의 방문에서 진료실혈압이 140/90 mmHg 이상이거나, 5일 이상 잰 가정혈압 평균이 "
               "135/85 mmHg 이상이면 고혈압으로 진단한다."),
        ("li", "• 5분 이상 앉아서 안정한 뒤 1–2분 간격으로 두 번 재고 평균을 쓴다."),
        ("li", "• 진료실혈압 160/100 mmHg 이상은 2기 고혈압이다."),
        ("h", "2. 목표혈압"),
        ("table", [
            ["대상", "목표혈압"],
            ["당뇨병 및 만성콩팥병 환자를 포함한 대부분의 성인", "130/80 mmHg 미만"],
            ["80세 이상", "수축기 140 mmHg 미만"],
            ["임신부", "140/90 mmHg 미만 (산과와 협진)"],
        ], [100, 70]),
        ("h", "3. 1차 약제"),
        ("p", "1차 약제는 다음 네 계열이다."),
        ("li", "① ACE 억제제 (리시노프릴, 라미프릴)"),
        ("li", "② 안지오텐신 II 수용체 차단제, ARB (로사르탄, 발사르탄)"),
        ("li", "③ 디하이드로피리딘계 칼슘채널차단제 (암로디핀, 니페디핀 서방정)"),
        ("li", "④ 티아지드계 또는 티아지드 유사 이뇨제 (히드로클로로티아지드, 클로르탈리돈, 인다파미드)"),
        ("li", "• 160/100 mmHg 미만이면 한 가지 약으로 시작하고, 160/100 mmHg 이상이면 두 가지 약의 "
               "병용(ACE 억제제 또는 ARB + 칼슘채널차단제 또는 이뇨제)으로 시작한다."),
        ("li", "• 베타차단제는 박출률 감소 심부전, 심근경색 후, 심방세동의 심박수 조절 같은 적응증이 없으면 "
               "1차 약제로 쓰지 않는다."),
        ("li", "• 알부민뇨(소변 알부민/크레아티닌비 30 mg/g 이상)가 있으면 ACE 억제제나 ARB를 쓴다."),
        ("li", "• ACE 억제제와 ARB를 함께 쓰지 않는다."),
        ("li", "• 임신 중에는 ACE 억제제와 ARB가 금기이며, 라베탈롤이나 니페디핀 서방정을 쓴다."),
        ("break",),
        ("h", "4. 약제별 용량"),
        ("table", [
            ["약제", "계열", "시작 용량", "최대 용량", "주의"],
            ["암로디핀", "칼슘채널차단제", "5 mg 1일 1회", "10 mg 1일 1회", "발목 부종"],
            ["니페디핀 서방정", "칼슘채널차단제", "30 mg 1일 1회", "90 mg 1일 1회", "두통, 안면홍조"],
            ["리시노프릴", "ACE 억제제", "10 mg 1일 1회", "40 mg 1일 1회", "마른기침, 혈관부종, 고칼륨혈증"],
            ["라미프릴", "ACE 억제제", "2.5 mg 1일 1회", "10 mg 1일 1회", "마른기침, 혈관부종"],
            ["로사르탄", "ARB", "50 mg 1일 1회", "100 mg 1일 1회", "고칼륨혈증"],
            ["발사르탄", "ARB", "80 mg 1일 1회", "320 mg 1일 1회", "고칼륨혈증"],
            ["히드로클로로티아지드", "티아지드", "12.5 mg 1일 1회", "25 mg 1일 1회", "저나트륨혈증, 저칼륨혈증, 통풍"],
            ["클로르탈리돈", "티아지드 유사", "12.5 mg 1일 1회", "25 mg 1일 1회", "저칼륨혈증"],
            ["인다파미드 서방정", "티아지드 유사", "1.5 mg 1일 1회", "1.5 mg 1일 1회", "저나트륨혈증"],
            ["스피로노락톤", "알도스테론 길항제 (추가 약제)", "25 mg 1일 1회", "50 mg 1일 1회", "고칼륨혈증, 여성형 유방"],
        ], [40, 34, 28, 28, 44]),
        ("h", "5. 추적 관찰"),
        ("li", "• 약을 시작하거나 바꾼 뒤 4주 후에 다시 진료한다."),
        ("li", "• ACE 억제제, ARB, 이뇨제, 스피로노락톤을 시작하면 2주 후 칼륨과 크레아티닌을 검사한다."),
        ("li", "• 크레아티닌이 30% 넘게 오르거나 칼륨이 5.5 mmol/L를 넘으면 ACE 억제제나 ARB를 끊거나 줄이고 "
               "1주 안에 다시 검사한다."),
        ("h", "6. 저항성 고혈압"),
        ("li", "• 최대 내약 용량의 세 가지 약(ACE 억제제 또는 ARB + 칼슘채널차단제 + 티아지드 유사 이뇨제)으로도 "
               "목표에 도달하지 못한 경우를 말한다. 복약 순응도와 가정혈압을 먼저 확인하고 이차성 원인을 찾는다."),
        ("li", "• 칼륨이 4.5 mmol/L 미만이고 eGFR이 45 mL/min/1.73m² 이상이면 스피로노락톤 25 mg 1일 1회를 추가한다."),
        ("h", "7. 생활요법"),
        ("li", "• 나트륨 하루 2 g 미만 (소금 약 5 g)"),
        ("li", "• 주 150분 이상 유산소 운동"),
        ("li", "• 체중 1 kg을 줄일 때마다 수축기혈압 약 1 mmHg 감소"),
        ("li", "• 음주는 남자 하루 2잔, 여자 하루 1잔 이하"),
        ("li", "• 금연"),
        ("h", "8. 응급 의뢰"),
        ("li", "• 180/110 mmHg 이상이면서 흉통, 호흡곤란, 신경학적 이상, 시력 저하 같은 새로운 증상이 있으면 "
               "당일 응급실로 보낸다."),
    ]
    return build("guidelines/hypertension-guideline-ko.pdf", items, font="HYSMyeongJo-Medium",
                 bold="HYSMyeongJo-Medium", title="고혈압 진료지침 요약 (실록 샘플 지침)")


# ---------------------------------------------------------------------------------------------
# papers/abstract-metformin-ckd-cohort-2022.pdf — English synthetic abstract, Helvetica.
def metformin_abstract() -> Path:
    items = [
        ("small", "SYNTHETIC ABSTRACT - written for the Sillok sample library. The study, the authors and all "
                  "results are fictional and must not be cited as evidence."),
        ("title", "Continuing metformin in moderate chronic kidney disease (eGFR 30-44) and the risk of "
                  "lactic acidosis: a retrospective cohort study"),
        ("p", "Authors: S. Example, T. Placeholder, Y. Sample (fictional). Sillok Sample Journal of Nephrology "
              "(fictional), 2022; 7(3): 88-95."),
        ("h", "Background"),
        ("p", "Metformin is often stopped when kidney function declines, because of concern about lactic "
              "acidosis. Evidence for patients with eGFR 30-44 mL/min/1.73m2 is limited."),
        ("h", "Methods"),
        ("p", "We studied 3,412 adults with type 2 diabetes whose eGFR fell to 30-44 mL/min/1.73m2. Patients who "
              "continued metformin at a reduced dose (maximum 1000 mg per day; n = 1,706) were compared with "
              "patients who stopped it (n = 1,706) after propensity-score matching. The primary outcome was "
              "hospital admission with lactic acidosis (lactate > 5 mmol/L and pH < 7.35)."),
        ("h", "Results"),
        ("table", [
            ["Outcome", "Continued metformin", "Stopped metformin", "Hazard ratio (95% CI)"],
            ["Lactic acidosis, per 10,000 patient-years", "4.1", "3.8", "1.08 (0.62-1.88)"],
            ["All-cause death, per 100 patient-years", "3.2", "3.9", "0.82 (0.68-0.99)"],
            ["Mean HbA1c at 1 year", "7.3%", "7.8%", "-"],
        ], [62, 36, 36, 40]),
        ("p", "Median follow-up was 3.1 years. Metformin was stopped in 9% of the continuation group when eGFR "
              "later fell below 30 mL/min/1.73m2."),
        ("h", "Conclusions"),
        ("p", "Continuing metformin at no more than 1000 mg per day in patients with eGFR 30-44 was not associated "
              "with more lactic acidosis, and glycaemic control was better. Metformin should still be stopped "
              "when eGFR falls below 30 mL/min/1.73m2."),
        ("p", "Keywords: metformin, chronic kidney disease, eGFR, lactic acidosis, type 2 diabetes"),
    ]
    return build("papers/abstract-metformin-ckd-cohort-2022.pdf", items, font="Helvetica",
                 bold="Helvetica-Bold", title="Metformin in moderate CKD (synthetic abstract)")


BUILDERS = (kim_htn, park_ckd, yoon_htn_dm, guideline_ko, metformin_abstract)

# Filled in as the builders run: {relative path: items}, so check.py can compare every
# paragraph and table cell with what pdftotext extracts.
SOURCES: dict[str, list] = {}


def main() -> None:
    register_fonts()
    for make in BUILDERS:
        print("wrote", make())


if __name__ == "__main__":
    main()
