"""Build the sample DOCX files (headings, tables, lists, a footer) with python-docx."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from docx import Document
from docx.oxml.ns import qn
from docx.shared import Pt

from common import FIXED_DATETIME, LIB, normalize_zip, out

# {relative path: list of every paragraph / cell text}, filled as files are built, for check.py.
SOURCES: dict[str, list[str]] = {}
# check.py sets this to False to collect SOURCES without writing files.
WRITE = True


def new_document(title: str, *, korean: bool) -> Document:
    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.size = Pt(10.5)
    if korean:
        normal.font.name = "Malgun Gothic"
        normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "맑은 고딕")
    props = doc.core_properties
    naive = FIXED_DATETIME.replace(tzinfo=None)
    props.author = "Sillok sample generator"
    props.last_modified_by = "Sillok sample generator"
    props.title = title
    props.subject = "Synthetic document for the Sillok sample library"
    props.comments = "Synthetic; not a real patient or a real study."
    props.created = naive
    props.modified = naive
    props.last_printed = datetime(2024, 11, 1)
    props.revision = 1
    return doc


class Builder:
    def __init__(self, rel: str, title: str, *, korean: bool):
        self.rel = rel
        self.doc = new_document(title, korean=korean)
        self.texts: list[str] = []

    def heading(self, text: str, level: int = 1):
        self.doc.add_heading(text, level=level)
        self.texts.append(text)

    def para(self, text: str, style: str | None = None):
        self.doc.add_paragraph(text, style=style)
        self.texts.append(text)

    def numbered(self, items: list[str]):
        # Word automatic numbering: the numbers live in numbering.xml, not in the text.
        for item in items:
            self.para(item, style="List Number")

    def bullets(self, items: list[str]):
        for item in items:
            self.para(item, style="List Bullet")

    def table(self, rows: list[list[str]]):
        table = self.doc.add_table(rows=len(rows), cols=len(rows[0]))
        table.style = "Table Grid"
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                cell = table.cell(r, c)
                cell.text = value
                if r == 0:
                    for run in cell.paragraphs[0].runs:
                        run.bold = True
                self.texts.append(value)

    def footer(self, text: str):
        self.doc.sections[0].footer.paragraphs[0].text = text
        self.texts.append(text)

    def save(self) -> Path:
        SOURCES[self.rel] = self.texts
        if not WRITE:
            return LIB / self.rel
        path = out(self.rel)
        self.doc.save(str(path))
        normalize_zip(path)
        return path


# ---------------------------------------------------------------------------------------------
# patients/progress-note-lee-t2dm-2024-05.docx — Korean. Wording rule: "당뇨" never stands alone
# (only 당뇨병, 당뇨병성), for Korean-analyzer tests.
def lee_t2dm() -> Path:
    b = Builder("patients/progress-note-lee-t2dm-2024-05.docx", "경과기록 - 이가상 (가상 환자)", korean=True)
    b.heading("경과기록 — 제2형 당뇨병", 0)
    b.para("실록 샘플 라이브러리 — 가상 환자 기록 (실제 환자 아님). 이름과 번호는 모두 지어낸 것입니다.")
    b.para("환자: 이가상 (여, 63세)    등록번호: SAMPLE-0002    진료일: 2024-05-20    진료과: 내분비내과")
    b.heading("S (주관적 소견)", 1)
    b.para("제2형 당뇨병 9년째. 메트포르민 1000 mg 1일 2회 복용 중. 저혈당 증상은 없음. "
           "최근 3개월 동안 밤에 소변을 자주 봄. 식사량 변화 없음.")
    b.heading("O (객관적 소견)", 1)
    b.para("혈압 128/76 mmHg, 체중 71 kg, 체질량지수 28.4 kg/m². 발 감각 정상, 발 궤양 없음.")
    b.table([
        ["검사", "2024-02-19", "2024-05-20", "단위"],
        ["당화혈색소 (HbA1c)", "7.9", "8.2", "%"],
        ["공복혈당", "152", "168", "mg/dL"],
        ["크레아티닌", "1.0", "1.1", "mg/dL"],
        ["eGFR", "62", "58", "mL/min/1.73m²"],
        ["소변 알부민/크레아티닌비", "45", "52", "mg/g"],
    ])
    b.heading("A (평가)", 1)
    b.para("제2형 당뇨병 조절 불량: 당화혈색소 8.2%, 목표 7.0% 미만. 당뇨병성 신장질환 의심 (알부민뇨 52 mg/g, "
           "eGFR 58 mL/min/1.73m²).")
    b.heading("P (계획)", 1)
    b.para("1. 엠파글리플로진 10 mg 1일 1회를 추가한다.")
    b.para("2. 메트포르민 1000 mg 1일 2회는 유지한다. eGFR이 45 이상이므로 줄이지 않는다. "
           "eGFR이 30 미만으로 떨어지면 메트포르민을 중단한다.")
    b.para("3. 조영제를 쓰는 CT 검사 당일과 검사 후 48시간 동안 메트포르민을 복용하지 않는다.")
    b.para("4. 설폰요소제는 저혈당과 체중 증가 위험 때문에 추가하지 않는다.")
    b.para("5. 3개월 후 당화혈색소, eGFR, 소변 알부민을 다시 검사한다. 다음 진료: 2024-08-19.")
    b.para("6. 당뇨병성 망막병증 선별을 위해 연 1회 안저검사를 안과에 의뢰한다.")
    b.footer("가상 환자 기록 — 실록 샘플 라이브러리")
    return b.save()


# ---------------------------------------------------------------------------------------------
# patients/clinic-note-placeholder-af-apixaban-2024-04.docx — English, automatic numbering.
def placeholder_af() -> Path:
    b = Builder("patients/clinic-note-placeholder-af-apixaban-2024-04.docx",
                "Cardiology clinic note - Alex Placeholder (synthetic)", korean=False)
    b.heading("Cardiology Clinic Note — Atrial Fibrillation", 0)
    b.para("Sillok sample library - synthetic record, not a real patient. All names and IDs are fictional.")
    b.para("Patient: Alex Placeholder    Sex/Age: M, 78    MRN: SAMPLE-0006    Visit: 2024-04-22")
    b.heading("History", 1)
    b.para("Paroxysmal atrial fibrillation found on a 48-hour Holter in 2024-03 (AF burden 18%). "
           "Palpitations twice a week. Hypertension for 12 years. No previous stroke or bleeding. "
           "He started aspirin 100 mg daily on his own after the diagnosis.")
    b.para("CHA2DS2-VASc score 3 (age 2, hypertension 1). HAS-BLED score 1.")
    b.heading("Examination", 1)
    b.para("Heart rate 72 bpm, irregular. BP 132/78 mmHg. Weight 64 kg. No murmurs, no oedema.")
    b.heading("Laboratory results (2024-04-15)", 2)
    b.table([
        ["Test", "Result", "Unit"],
        ["Creatinine", "1.1", "mg/dL"],
        ["eGFR", "64", "mL/min/1.73m²"],
        ["Haemoglobin", "13.8", "g/dL"],
        ["Platelets", "212", "×10³/µL"],
        ["ALT", "22", "U/L"],
    ])
    b.heading("Apixaban dose check", 1)
    b.para("Reduce apixaban to 2.5 mg twice daily only if at least 2 of these 3 are present: age ≥ 80 years, "
           "body weight ≤ 60 kg, serum creatinine ≥ 1.5 mg/dL. This patient meets none of the 3 "
           "(age 78, weight 64 kg, creatinine 1.1 mg/dL), so he needs the full dose.")
    b.heading("Plan", 1)
    b.numbered([
        "Start apixaban 5 mg twice daily.",
        "Stop aspirin 100 mg. Do not co-prescribe aspirin or other antiplatelet drugs with apixaban "
        "(no coronary or stent indication).",
        "Start metoprolol succinate 25 mg once daily for rate control (target resting heart rate < 110 bpm).",
        "Before the planned colonoscopy with polypectomy (2024-06), hold apixaban for 48 hours; "
        "no bridging with heparin.",
        "Recheck creatinine and full blood count in 6 months (2024-10).",
    ])
    b.footer("Synthetic record - Sillok sample library")
    return b.save()


# ---------------------------------------------------------------------------------------------
# admin/clinical-trial-consent-summary-ko.docx — Korean form summary with a signature table.
def consent_form() -> Path:
    b = Builder("admin/clinical-trial-consent-summary-ko.docx", "임상시험 대상자 설명문 및 동의서 양식 요약",
                korean=True)
    b.heading("임상시험 대상자 설명문 및 동의서 양식 요약", 0)
    b.para("실록 샘플 라이브러리를 위해 작성한 가상의 양식입니다. 실제 임상시험이 아닙니다.")
    b.table([
        ["항목", "내용"],
        ["시험 번호", "SILLOK-HTN-01 (가상)"],
        ["시험 제목", "고혈압 환자에서 가정혈압 원격 모니터링이 혈압 조절에 미치는 효과"],
        ["시험책임자", "실록 샘플 병원 내과 김연구 (가상)"],
        ["양식 버전", "2.0, 2024-02-15"],
    ])
    b.heading("1. 시험의 목적", 1)
    b.para("가정에서 잰 혈압을 병원으로 자동 전송하고 간호사가 매주 확인하는 방법이 일반 외래 진료보다 "
           "혈압을 더 잘 낮추는지 알아보려는 시험입니다. 참여자 300명을 모집합니다.")
    b.heading("2. 참여 기간과 방문 일정", 1)
    b.para("참여 기간은 24주이며 병원 방문은 모두 5회입니다. 채혈량은 전체 기간 동안 모두 40 mL입니다.")
    b.table([
        ["방문", "시기", "주요 검사"],
        ["1 (선별·등록)", "0주", "혈압, 채혈 10 mL, 심전도"],
        ["2", "4주", "혈압, 측정기 점검"],
        ["3", "8주", "혈압, 채혈 10 mL"],
        ["4", "16주", "혈압"],
        ["5 (종료)", "24주", "혈압, 채혈 20 mL, 설문"],
    ])
    b.heading("3. 예상되는 위험과 불편", 1)
    b.bullets([
        "채혈 부위의 통증이나 멍",
        "혈압 측정 시 팔을 조이는 불편감",
        "측정 기록을 매일 전송해야 하는 번거로움",
    ])
    b.heading("4. 예상되는 이익", 1)
    b.para("혈압 조절이 나아질 수 있으나 보장되지는 않습니다. 시험 결과는 다른 고혈압 환자의 진료에 도움이 될 수 "
           "있습니다.")
    b.heading("5. 교통비", 1)
    b.para("방문 1회당 교통비 50,000원을 드립니다 (5회 방문 시 최대 250,000원).")
    b.heading("6. 자발적 참여와 동의 철회", 1)
    b.para("참여는 자유 의사에 따르며, 언제든지 이유를 밝히지 않고 동의를 철회할 수 있습니다. 철회하더라도 진료에 "
           "어떠한 불이익도 없습니다. 철회 전까지 수집된 자료는 대상자가 요청하면 분석에서 제외합니다.")
    b.heading("7. 개인정보 보호", 1)
    b.para("대상자의 자료는 이름 대신 코드 번호로 관리합니다. 자료는 임상시험 종료 후 3년 동안 보관한 뒤 파기합니다. "
           "관계 법령에 따라 점검자, 임상시험심사위원회(IRB), 규제 기관이 원자료를 열람할 수 있습니다.")
    b.heading("8. 시험 관련 손상과 보상", 1)
    b.para("시험 참여로 손상이 생기면 의뢰자가 가입한 배상 보험에 따라 치료와 보상을 받을 수 있습니다.")
    b.heading("9. 연락처", 1)
    b.para("시험책임자 김연구: 내선 0000 (가상). 임상시험심사위원회(IRB): 내선 0001 (가상).")
    b.heading("동의 서명", 1)
    b.table([
        ["구분", "성명", "서명", "날짜"],
        ["대상자", "", "", ""],
        ["법정대리인 (해당 시)", "", "", ""],
        ["설명한 연구자", "", "", ""],
    ])
    b.footer("SILLOK-HTN-01 동의서 양식 요약 v2.0 — 가상 문서")
    return b.save()


# ---------------------------------------------------------------------------------------------
# papers/abstract-home-bp-telemonitoring-ko-en-2024.docx — bilingual synthetic abstract.
def telemonitoring_abstract() -> Path:
    b = Builder("papers/abstract-home-bp-telemonitoring-ko-en-2024.docx",
                "Home blood pressure telemonitoring (synthetic abstract)", korean=True)
    b.heading("가정혈압 원격 모니터링이 혈압 조절에 미치는 효과: 가상 무작위 배정 연구", 0)
    b.para("가상 초록 / Synthetic abstract — 실록 샘플 라이브러리를 위해 작성했습니다. 연구, 저자, 결과는 모두 "
           "지어낸 것입니다. The study, authors and results are fictional.")
    b.para("저자 (Authors): 윤샘플, 강예시 (가상 / fictional). 실록 샘플 고혈압학회지 (가상), 2024; 3(1): 1–9.")
    b.heading("국문 초록", 1)
    b.heading("목적", 2)
    b.para("가정혈압 원격 모니터링과 간호사 상담이 일반 외래 진료보다 혈압을 더 낮추는지 평가하였다.")
    b.heading("방법", 2)
    b.para("조절되지 않는 고혈압 환자 300명을 원격 모니터링군 150명과 일반 진료군 150명으로 무작위 배정하고 "
           "6개월 동안 추적하였다. 일차 결과는 6개월 후 진료실 수축기혈압의 변화였다.")
    b.heading("결과", 2)
    b.para("6개월 후 수축기혈압은 원격 모니터링군에서 14.1 mmHg, 일반 진료군에서 7.9 mmHg 감소하여 차이는 "
           "6.2 mmHg였다 (95% 신뢰구간 3.5–8.9). 목표혈압(130/80 mmHg 미만) 달성률은 58% 대 41%였다.")
    b.heading("결론", 2)
    b.para("가정혈압 원격 모니터링은 6개월 동안 수축기혈압을 일반 진료보다 6.2 mmHg 더 낮추었다.")
    b.heading("English abstract", 1)
    b.para("Title: Effect of home blood pressure telemonitoring on blood pressure control: a synthetic "
           "randomized trial.")
    b.para("Methods: 300 adults with uncontrolled hypertension were randomized to telemonitoring with weekly "
           "nurse review (n = 150) or usual care (n = 150) for 6 months. The primary outcome was the change "
           "in office systolic blood pressure.")
    b.para("Results: Systolic blood pressure fell by 14.1 mmHg with telemonitoring and by 7.9 mmHg with usual "
           "care (difference 6.2 mmHg; 95% CI 3.5 to 8.9). The target of < 130/80 mmHg was reached by 58% "
           "versus 41%.")
    b.table([
        ["Outcome at 6 months", "Telemonitoring (n = 150)", "Usual care (n = 150)"],
        ["Change in office systolic BP", "−14.1 mmHg", "−7.9 mmHg"],
        ["BP < 130/80 mmHg", "58%", "41%"],
        ["Clinic visits per patient", "2.1", "3.4"],
    ])
    b.para("Conclusions: Home telemonitoring lowered systolic blood pressure 6.2 mmHg more than usual care.")
    b.para("주제어 (Keywords): 가정혈압, 원격 모니터링, 고혈압, home blood pressure, telemonitoring, hypertension")
    return b.save()


BUILDERS = (lee_t2dm, placeholder_af, consent_form, telemonitoring_abstract)


def main() -> None:
    for make in BUILDERS:
        print("wrote", make())


if __name__ == "__main__":
    main()
