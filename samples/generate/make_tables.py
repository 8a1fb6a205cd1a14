"""Build the tabular samples.

- tables/medications.csv: UTF-8 *with* BOM (as Excel writes "CSV UTF-8"), CRLF, RFC 4180 quoting
  (fields with commas are quoted; one field contains doubled quotes).
- tables/lab-results.tsv: UTF-8 without BOM, LF, tab-separated, empty cells where a flag is absent.
"""

from __future__ import annotations

import csv
import io

from common import out

MED_HEADER = [
    "drug_en", "drug_ko", "class_en", "class_ko", "usual_dose", "max_dose", "notes_en", "notes_ko",
]

MEDICATIONS = [
    ["amlodipine", "암로디핀", "calcium channel blocker (dihydropyridine)", "칼슘채널차단제",
     "5 mg once daily", "10 mg/day", "Ankle oedema, dose-related", "발목 부종 (용량 의존)"],
    ["lisinopril", "리시노프릴", "ACE inhibitor", "ACE 억제제",
     "10 mg once daily", "40 mg/day", "Dry cough, angioedema; do not combine with an ARB",
     "마른기침, 혈관부종; ARB와 함께 쓰지 않는다"],
    ["losartan", "로사르탄", "angiotensin II receptor blocker (ARB)", "안지오텐신 II 수용체 차단제",
     "50 mg once daily", "100 mg/day", "Check potassium and creatinine 2 weeks after starting",
     "시작 2주 후 칼륨, 크레아티닌 검사"],
    ["hydrochlorothiazide", "히드로클로로티아지드", "thiazide diuretic", "티아지드 이뇨제",
     "12.5 mg once daily", "25 mg/day", "Low sodium, low potassium, gout", "저나트륨혈증, 저칼륨혈증, 통풍"],
    ["spironolactone", "스피로노락톤", "mineralocorticoid receptor antagonist", "알도스테론 길항제",
     "25 mg once daily", "50 mg/day", "High potassium; do not take potassium supplements",
     "고칼륨혈증; 칼륨 보충제를 함께 복용하지 않는다"],
    ["metformin", "메트포르민", "biguanide", "비구아나이드",
     "500-1000 mg twice daily with meals", "2000 mg/day",
     "Do not start if eGFR < 45; max 1000 mg/day if eGFR 30-44; stop if eGFR < 30; "
     "hold on the day of iodinated contrast and for 48 hours after",
     "eGFR 30 미만이면 중단; 조영제 검사 당일과 검사 후 48시간 동안 복용하지 않는다"],
    ["empagliflozin", "엠파글리플로진", "SGLT2 inhibitor", "SGLT2 억제제",
     "10 mg once daily", "25 mg/day", "Genital fungal infection, ketoacidosis (rare)", "생식기 진균 감염, 드물게 케톤산증"],
    ["dapagliflozin", "다파글리플로진", "SGLT2 inhibitor", "SGLT2 억제제",
     "10 mg once daily", "10 mg/day", "Used in CKD and heart failure, with or without diabetes",
     "당뇨병 여부와 관계없이 만성콩팥병, 심부전에 사용"],
    ["atorvastatin", "아토르바스타틴", "statin", "스타틴",
     "10-20 mg once daily", "80 mg/day", "Muscle pain; check ALT if symptoms", "근육통; 증상이 있으면 ALT 검사"],
    ["warfarin", "와파린", "vitamin K antagonist", "비타민 K 길항제",
     "individualised, INR-guided (often 2-10 mg/day)", "no fixed maximum; dose by INR",
     "Target INR 2.0-3.0 in atrial fibrillation; many drug and food interactions",
     "심방세동 목표 INR 2.0-3.0; 약물·음식 상호작용 많음"],
    ["apixaban", "아픽사반", "direct oral anticoagulant (factor Xa inhibitor)", "직접경구항응고제",
     "5 mg twice daily", "10 mg/day",
     "2.5 mg twice daily if at least 2 of: age >= 80, weight <= 60 kg, creatinine >= 1.5 mg/dL",
     "80세 이상, 체중 60 kg 이하, 크레아티닌 1.5 mg/dL 이상 중 2개 이상이면 2.5 mg 1일 2회"],
    ["bisoprolol", "비소프롤롤", "beta-blocker (cardioselective)", "베타차단제 (심장선택성)",
     "2.5-5 mg once daily", "10 mg/day", "Heart rate control; heart failure", "심박수 조절; 심부전"],
    ["sacubitril/valsartan", "사쿠비트릴/발사르탄", "angiotensin receptor-neprilysin inhibitor (ARNI)",
     "안지오텐신 수용체-네프릴리신 억제제",
     "49/51 mg twice daily", "97/103 mg twice daily",
     "Do not give with an ACE inhibitor; 36-hour gap after the last ACE inhibitor dose",
     "ACE 억제제와 함께 쓰지 않는다; 마지막 ACE 억제제 투여 후 36시간 간격"],
    ["furosemide", "푸로세미드", "loop diuretic", "고리 이뇨제",
     "20-40 mg once daily", "dose by response", "Low potassium; check electrolytes", "저칼륨혈증; 전해질 검사"],
    ["budesonide-formoterol", "부데소니드-포르모테롤", "inhaled corticosteroid + LABA", "흡입 스테로이드 + 지속성 베타2 작용제",
     "160/4.5 mcg, 2 inhalations twice daily", "12 inhalations/day",
     "Maintenance and reliever therapy; rinse mouth after use", "유지 및 증상 완화 요법; 사용 후 입 헹굼"],
    ["salbutamol", "살부타몰", "short-acting beta2 agonist (SABA)", "속효성 베타2 작용제",
     "100-200 mcg as needed", "see product label", 'Also called "albuterol" in the US', "미국명 알부테롤"],
    ["levothyroxine", "레보티록신", "thyroid hormone", "갑상선호르몬",
     "about 1.6 mcg/kg/day, once daily before breakfast", "dose by TSH",
     "Take calcium or iron at least 4 hours apart", "칼슘제, 철분제와 4시간 이상 간격"],
    ["amoxicillin", "아목시실린", "penicillin antibiotic", "페니실린계 항생제",
     "500 mg three times daily", "3000 mg/day", "Do not give to patients with penicillin allergy",
     "페니실린 알레르기 환자에게 투여하지 않는다"],
    ["clindamycin", "클린다마이신", "lincosamide antibiotic", "린코사마이드계 항생제",
     "300 mg three times daily", "1800 mg/day (oral)",
     "Alternative in penicillin allergy; risk of C. difficile diarrhoea",
     "페니실린 알레르기 시 대체 약; 클로스트리디오이데스 디피실 설사 위험"],
    ["levofloxacin", "레보플록사신", "fluoroquinolone antibiotic", "플루오로퀴놀론계 항생제",
     "750 mg once daily", "750 mg/day",
     "Take 2 hours apart from antacids, iron or calcium; tendon rupture risk",
     "제산제, 철분제, 칼슘제와 2시간 간격; 힘줄 파열 위험"],
    ["acetaminophen", "아세트아미노펜", "analgesic, antipyretic", "해열진통제",
     "500-1000 mg every 6 hours as needed", "4000 mg/day (3000 mg/day in older adults or liver disease)",
     'Also called paracetamol; "APAP" on US labels', "파라세타몰이라고도 함"],
    ["ibuprofen", "이부프로펜", "NSAID", "비스테로이드 소염진통제",
     "200-400 mg every 6-8 hours", "1200 mg/day without prescription",
     "Avoid in chronic kidney disease, heart failure and with anticoagulants",
     "만성콩팥병, 심부전, 항응고제 복용 시 피한다"],
]

LAB_HEADER = [
    "patient_id", "patient_name", "date", "test_code", "test_name_ko", "test_name_en",
    "value", "unit", "ref_range", "flag",
]

# flag: H high, L low, empty = within range or not applicable. All values synthetic.
LABS = [
    ["SAMPLE-0001", "김가상", "2024-03-12", "CREA", "크레아티닌", "creatinine", "0.9", "mg/dL", "0.7-1.3", ""],
    ["SAMPLE-0001", "김가상", "2024-03-12", "EGFR", "사구체여과율", "eGFR", "92", "mL/min/1.73m2", ">=60", ""],
    ["SAMPLE-0001", "김가상", "2024-03-12", "K", "칼륨", "potassium", "4.2", "mmol/L", "3.5-5.1", ""],
    ["SAMPLE-0001", "김가상", "2024-03-12", "LDL", "LDL 콜레스테롤", "LDL cholesterol", "142", "mg/dL", "<130", "H"],
    ["SAMPLE-0001", "김가상", "2024-04-09", "K", "칼륨", "potassium", "4.4", "mmol/L", "3.5-5.1", ""],
    ["SAMPLE-0002", "이가상", "2024-02-19", "HBA1C", "당화혈색소", "HbA1c", "7.9", "%", "4.0-6.0", "H"],
    ["SAMPLE-0002", "이가상", "2024-05-20", "HBA1C", "당화혈색소", "HbA1c", "8.2", "%", "4.0-6.0", "H"],
    ["SAMPLE-0002", "이가상", "2024-05-20", "GLU", "공복혈당", "fasting glucose", "168", "mg/dL", "70-99", "H"],
    ["SAMPLE-0002", "이가상", "2024-05-20", "EGFR", "사구체여과율", "eGFR", "58", "mL/min/1.73m2", ">=60", "L"],
    ["SAMPLE-0002", "이가상", "2024-05-20", "UACR", "소변 알부민/크레아티닌비", "urine albumin/creatinine ratio", "52", "mg/g", "<30", "H"],
    ["SAMPLE-0004", "박가상", "2024-06-03", "CREA", "크레아티닌", "creatinine", "2.6", "mg/dL", "0.7-1.3", "H"],
    ["SAMPLE-0004", "박가상", "2024-06-03", "K", "칼륨", "potassium", "5.8", "mmol/L", "3.5-5.1", "H"],
    ["SAMPLE-0004", "박가상", "2024-06-08", "CREA", "크레아티닌", "creatinine", "1.8", "mg/dL", "0.7-1.3", "H"],
    ["SAMPLE-0004", "박가상", "2024-06-08", "EGFR", "사구체여과율", "eGFR", "36", "mL/min/1.73m2", ">=60", "L"],
    ["SAMPLE-0004", "박가상", "2024-06-08", "K", "칼륨", "potassium", "5.0", "mmol/L", "3.5-5.1", ""],
    ["SAMPLE-0005", "최가상", "2024-01-02", "INR", "프로트롬빈시간 INR", "INR", "3.1", "", "2.0-3.0 (target)", "H"],
    ["SAMPLE-0005", "최가상", "2024-01-16", "INR", "프로트롬빈시간 INR", "INR", "3.6", "", "2.0-3.0 (target)", "H"],
    ["SAMPLE-0006", "Alex Placeholder", "2024-04-15", "CREA", "크레아티닌", "creatinine", "1.1", "mg/dL", "0.7-1.3", ""],
    ["SAMPLE-0006", "Alex Placeholder", "2024-04-15", "HB", "혈색소", "haemoglobin", "13.8", "g/dL", "13.0-17.0", ""],
    ["SAMPLE-0008", "홍길동", "2024-04-25", "LDL", "LDL 콜레스테롤", "LDL cholesterol", "168", "mg/dL", "<130", "H"],
    ["SAMPLE-0008", "홍길동", "2024-04-25", "TG", "중성지방", "triglycerides", "190", "mg/dL", "<150", "H"],
    ["SAMPLE-0009", "한가상", "2024-07-03", "TSH", "갑상선자극호르몬", "TSH", "6.8", "mIU/L", "0.4-4.0", "H"],
    ["SAMPLE-0009", "한가상", "2024-07-03", "FT4", "유리 T4", "free T4", "0.9", "ng/dL", "0.8-1.8", ""],
    ["SAMPLE-0010", "Casey Example", "2024-08-12", "CRP", "C-반응단백", "C-reactive protein", "18.2", "mg/dL", "<0.5", "H"],
    ["SAMPLE-0010", "Casey Example", "2024-08-16", "CRP", "C-반응단백", "C-reactive protein", "4.1", "mg/dL", "<0.5", "H"],
    ["SAMPLE-0011", "강가상", "2024-10-02", "NTPBNP", "NT-proBNP", "NT-proBNP", "9600", "pg/mL", "<125", "H"],
    ["SAMPLE-0011", "강가상", "2024-10-09", "NTPBNP", "NT-proBNP", "NT-proBNP", "2840", "pg/mL", "<125", "H"],
    ["SAMPLE-0012", "윤가상", "2024-09-03", "HBA1C", "당화혈색소", "HbA1c", "7.4", "%", "4.0-6.0", "H"],
    ["SAMPLE-0012", "윤가상", "2024-09-03", "UACR", "소변 알부민/크레아티닌비", "urine albumin/creatinine ratio", "120", "mg/g", "<30", "H"],
]


def main() -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(MED_HEADER)
    writer.writerows(MEDICATIONS)
    path = out("tables/medications.csv")
    path.write_bytes(buf.getvalue().encode("utf-8-sig"))
    print("wrote", path)

    lines = ["\t".join(LAB_HEADER)] + ["\t".join(row) for row in LABS]
    for row in LABS:
        assert len(row) == len(LAB_HEADER) and not any("\t" in c or "\n" in c for c in row)
    path = out("tables/lab-results.tsv")
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    print("wrote", path)


if __name__ == "__main__":
    main()
