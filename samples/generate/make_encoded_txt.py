"""Build the two plain-text files whose encoding is not UTF-8.

- admin/lab-safety-rules-cp949.txt: CP949 (Windows code page 949, the superset of EUC-KR), CRLF line
  endings, no BOM. It contains 똠, a syllable outside KS X 1001, encoded as 0x8C 0x63: a strict
  EUC-KR decoder fails on it, and its trail byte is ASCII 'c'.
- patients/note-han-hypothyroid-2024-07-utf16.txt: UTF-16LE with a byte-order mark (FF FE),
  LF line endings, Korean and English mixed.
"""

from __future__ import annotations

from pathlib import Path

from common import out

LAB_SAFETY = """\
실록 샘플 연구소 연구실 안전 수칙
(실록 샘플 라이브러리를 위해 작성한 가상 기관의 내부 규정입니다. 실제 기관의 규정이 아닙니다.)

문서 번호: SAMPLE-ADM-001
개정일: 2024-02-01
안전관리 담당: 박똠이 (가상 인물, 내선 0000)

1. 개인보호구
  가. 실험실 안에서는 실험복과 보안경을 항상 착용한다.
  나. 화학물질과 생물 시료를 다룰 때는 니트릴 장갑을 낀다. 장갑을 낀 채로 문손잡이, 전화기, 키보드를 만지지 않는다.
  다. 샌들, 슬리퍼처럼 발가락이 드러나는 신발을 신지 않는다.

2. 화학물질 취급
  가. 처음 쓰는 물질은 물질안전보건자료(MSDS)를 먼저 읽는다.
  나. 휘발성 물질은 흄후드 안에서만 다루며, 흄후드 면속도는 0.5 m/s 이상이어야 한다.
  다. 산과 염기, 산화제와 유기용매는 서로 분리하여 보관한다.

3. 폐액 처리
  가. 폐액은 종류별 폐액통에 모으고, 폐액통은 80% 이상 채우지 않는다.
  나. 폐액통에는 내용물, 날짜, 담당자 이름을 적는다.

4. 생물안전
  가. 인체 유래 시료는 생물안전 2등급(BSL-2) 실험실의 생물안전작업대에서 다룬다.
  나. 작업 전후에 작업대를 70% 에탄올로 닦는다.
  다. 사용한 주사침은 뚜껑을 다시 씌우지 않고 바로 손상성 폐기물 용기에 버린다.

5. 사고 대응
  가. 화학물질이 눈에 들어가면 즉시 세안기로 15분 이상 씻고 안전관리 담당에게 보고한다.
  나. 피부에 묻으면 오염된 옷을 벗고 흐르는 물로 15분 이상 씻는다.
  다. 불이 나면 비상벨을 누르고 대피한 뒤 내선 1199(가상)로 신고한다.

6. 안전교육
  연구활동종사자는 해마다 12시간 이상 정기 안전교육을 받는다.
  새로 온 연구활동종사자는 실험을 시작하기 전에 8시간의 신규 교육을 받는다.

7. 기타
  실험실 안에서는 음식물을 먹거나 마시지 않으며, 화장품을 바르지 않는다.
  마지막으로 퇴실하는 사람은 가스 밸브, 전열기, 창문을 점검하고 점검표에 서명한다.
"""

HAN_THYROID = """\
실록 샘플 라이브러리 — 가상 환자 기록 (실제 환자 아님) / Sillok sample library - synthetic record

Endocrinology follow-up / 내분비내과 경과기록
환자 Patient: 한가상 (F, 39세)    ID: SAMPLE-0009    Date: 2024-07-03

S: 피로감과 추위를 타는 증상(cold intolerance)이 좋아지는 중. Levothyroxine 50 mcg 1일 1회 복용 6주째.
   아침 식사 직후에 복용하는 날이 많았음.

O: TSH 6.8 mIU/L (ref 0.4–4.0), free T4 0.9 ng/dL (ref 0.8–1.8), anti-TPO 420 IU/mL.
   Weight 61 kg, HR 64 bpm, BP 116/72 mmHg.

A: 원발성 갑상선기능저하증 (primary hypothyroidism, Hashimoto thyroiditis). TSH가 아직 목표에 이르지 못함.

P:
 1. Levothyroxine 50 mcg → 75 mcg 1일 1회로 증량. 아침 공복에 복용 (식사 30–60분 전).
 2. 칼슘제와 철분제는 levothyroxine 복용 후 4시간 이상 간격을 둔다.
    (Take calcium or iron supplements at least 4 hours after levothyroxine.)
 3. 6주 후 TSH 재검 (2024-08-14). 목표 TSH 0.5–2.5 mIU/L.
 4. 임신을 계획하면 바로 연락하도록 설명함 — 임신 중에는 용량을 약 25–30% 늘려야 함.
"""


def write_cp949(rel: str, text: str) -> Path:
    path = out(rel)
    path.write_bytes(text.replace("\n", "\r\n").encode("cp949"))  # strict: fails on a non-CP949 char
    return path


def write_utf16le_bom(rel: str, text: str) -> Path:
    path = out(rel)
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    return path


def main() -> None:
    print("wrote", write_cp949("admin/lab-safety-rules-cp949.txt", LAB_SAFETY))
    print("wrote", write_utf16le_bom("patients/note-han-hypothyroid-2024-07-utf16.txt", HAN_THYROID))


SOURCES = {
    "admin/lab-safety-rules-cp949.txt": LAB_SAFETY,
    "patients/note-han-hypothyroid-2024-07-utf16.txt": HAN_THYROID,
}

if __name__ == "__main__":
    main()
