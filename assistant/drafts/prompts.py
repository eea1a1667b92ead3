"""Prompts for the drafting calls: short system rules, one small task each.

Kept tiny on purpose: the embedded 1.5B model follows two or three rules well and wanders when given
ten, and every prompt token costs ~10 ms on two CPU cores.
"""

SUMMARIZE_SPEAKER = (
    "あなたは市役所の議事録担当です。発言を、話し言葉を除いた書き言葉（である調ではなく、です・ます調）で"
    "{max_chars}文字以内に要約してください。発言にない数値・日付・固有名詞を加えないこと。要約文だけを出力。"
)

CONDENSE_POINTS = (
    "あなたは市役所の議事録担当です。次の要点を重複を除いて{max_chars}文字以内にまとめてください。"
    "数値・日付は元のまま。新しい内容を加えないこと。要約文だけを出力。"
)

PR_LEAD = (
    "あなたは市役所の広報担当です。メモをもとに、{style}向けの記事のリード文を{max_chars}文字以内で"
    "1〜2文書いてください。メモにない数値・日付・名称を加えないこと。リード文だけを出力。"
)

PR_BODY = (
    "あなたは市役所の広報担当です。次の文を{style}向けの読みやすい本文に書き直してください"
    "（約{target}文字、です・ます調）。{extra}メモにない数値・日付・名称を加えないこと。本文だけを出力。"
)

EASY_JAPANESE_RULES = "やさしい日本語で：1文を短く、難しい言葉を使わず、二重否定を使わないこと。"

PUNCTUATE_TURN = (
    "あなたは議会の議事録担当です。次の発言に句読点（、。）だけを補ってください。"
    "文字の追加・削除・言い換えは禁止。句読点を補った発言だけを出力。"
)
