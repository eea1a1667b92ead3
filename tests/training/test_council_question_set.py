"""training/council_question_set.py: kiryu-style questions and corpus from the minutes and topic lists."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from yakuba.evals.datasets import load_dataset
from yakuba.training import council_question_set


def _module():  # type: ignore[no-untyped-def]
    return council_question_set


RECORDS = [
    {"session": "令和3年第2回定例会", "slug": "r3-2-teireikai", "day": "06月14日\u3000一般質問", "schedule_id": 4,
     "id": 1, "type": "名簿", "speaker": None, "role": None, "body": "出席議員"},
    {"session": "令和3年第2回定例会", "slug": "r3-2-teireikai", "day": "06月14日\u3000一般質問", "schedule_id": 4,
     "id": 7, "type": "質問", "speaker": "山田\u3000太郎", "role": "３番",
     "body": "水沼診療所についてお伺いいたします。\n\u3000\u3000診療所の再開時期をお示しください。"},
    {"session": "令和3年第2回定例会", "slug": "r3-2-teireikai", "day": "06月14日\u3000一般質問", "schedule_id": 4,
     "id": 8, "type": "答弁", "speaker": "佐藤花子", "role": "保健福祉部長", "body": "水沼診療所についてお答えいたします。"},
    {"session": "令和3年第2回定例会", "slug": "r3-2-teireikai", "day": "06月14日\u3000一般質問", "schedule_id": 4,
     "id": 9, "type": "質問", "speaker": "山田太郎", "role": "３番", "body": "次に、学校給食の無償化について伺います。"},
    {"session": "令和3年第1回臨時会", "slug": "r3-1-rinjikai", "day": "05月10日", "schedule_id": 1,
     "id": 2, "type": "議長", "speaker": "北川久人", "role": "議長", "body": "これより臨時会を開会いたします。"},
    {"session": "令和4年第1回定例会", "slug": "r4-1-teireikai", "day": "03月01日", "schedule_id": 2,
     "id": 3, "type": "質問", "speaker": "山田太郎", "role": "３番", "body": "別の年の質問です。"},
]
TOPICS = [{"session": "令和3年第2回定例会", "sessionSlug": "r3-2-teireikai", "questions": [
    {"memberName": "山田 太郎", "order": 1, "items": [
        {"title": "水沼診療所について", "details": ["水沼診療所の進捗状況について", "診療所の再開時期について",
                                                   "診療再開時のスタッフ体制（医師・看護師）について", "四つ目の項目"]},
        {"title": "(不明)", "details": ["読めなかった項目"]},
        {"title": "学校給食の無償化", "details": []},
    ]},
]}]


def test_question_text_follows_the_dev_set() -> None:
    module = _module()
    text = module.question_text("水沼診療所について", ["進捗状況について", "Ｘ" * 50, "再開時期", "四つ目"])
    assert text == "水沼診療所について（進捗状況、" + "X" * 40 + "、再開時期）について、議会でどのような質問と答弁がありましたか。"
    assert module.question_text("上水道", []) == "上水道について、議会でどのような質問と答弁がありましたか。"


def test_build_writes_a_loadable_dataset_for_one_year(tmp_path: Path) -> None:
    module = _module()
    minutes, topics = tmp_path / "minutes.jsonl.gz", tmp_path / "topics.json.gz"
    with gzip.open(minutes, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS)
    with gzip.open(topics, "wt", encoding="utf-8") as handle:
        json.dump(TOPICS, handle, ensure_ascii=False)
    n_docs, n_questions = module.build("r3", tmp_path / "set", minutes=minutes, topics=topics)
    assert (n_docs, n_questions) == (3, 2)  # no 名簿, no 臨時会, no other year; (不明) topics skipped
    dataset = load_dataset(tmp_path / "set")
    by_id = {q.id: q for q in dataset.questions}
    clinic = by_id["r3-2-teireikai/1/0"]
    assert clinic.gold_doc_ids == ["r3-2-teireikai/4/7"]  # the speech that names the topic
    assert clinic.question.startswith("水沼診療所について（水沼診療所の進捗状況、診療所の再開時期、診療再開時のスタッフ体制(医師・看護師)）")
    assert by_id["r3-2-teireikai/1/2"].gold_doc_ids == ["r3-2-teireikai/4/9"]
    corpus = {json.loads(line)["id"]: json.loads(line) for line in (tmp_path / "set" / "corpus.jsonl").open()}
    assert corpus["r3-2-teireikai/4/7"]["text"].startswith("○３番（山田\u3000太郎）\n水沼診療所")
    assert corpus["r3-2-teireikai/4/8"]["metadata"]["date"] == "06月14日"
