"""A small labelled set for the semantic layer: (prompt, prompt, same answer?).

Positives are paraphrases a user would expect to share an answer. Negatives are the
dangerous kind: same topic and wording, different answer (another entity, number, unit,
direction, negation, language feature).
"""

from __future__ import annotations

PARAPHRASES: list[tuple[str, str]] = [
    ("How do I reset my password?", "What are the steps to reset my password?"),
    ("What is the capital of France?", "Which city is the capital of France?"),
    ("How do I reverse a list in Python?", "How can I reverse a Python list?"),
    ("What is the boiling point of water at sea level?", "At sea level, what temperature does water boil at?"),
    ("Who wrote Pride and Prejudice?", "Who is the author of Pride and Prejudice?"),
    ("How many days are there in a leap year?", "How many days does a leap year have?"),
    ("Explain what a REST API is.", "Can you explain what a REST API is?"),
    ("What is the speed of light?", "How fast does light travel?"),
    ("How do I create a virtual environment in Python?", "How can I make a Python virtual environment?"),
    ("Translate 'good morning' into Spanish.", "How do you say 'good morning' in Spanish?"),
    ("What time zone is Tokyo in?", "Which time zone does Tokyo use?"),
    ("How do I undo the last git commit?", "How can I undo my most recent git commit?"),
    ("What is the tallest mountain in the world?", "Which mountain is the highest in the world?"),
    ("Summarize the plot of Hamlet.", "Give me a summary of the plot of Hamlet."),
    ("How do I sort a dictionary by value in Python?", "How can I sort a Python dict by its values?"),
    ("What is photosynthesis?", "What does photosynthesis mean?"),
    ("How do I check my Python version?", "How can I find out which Python version I have?"),
    ("what's the capital of japan", "What is the capital of Japan?"),
    ("How many continents are there?", "How many continents are there on Earth?"),
    ("Recommend a good book about habits.", "Can you recommend a good book about habits?"),
]

NON_PARAPHRASES: list[tuple[str, str]] = [
    ("How do I reset my password?", "How do I delete my account?"),
    ("What is the capital of France?", "What is the capital of Germany?"),
    ("How do I reverse a list in Python?", "How do I reverse a string in Python?"),
    ("Convert 5 miles to kilometers.", "Convert 50 miles to kilometers."),
    ("Convert 10 kilometers to miles.", "Convert 10 miles to kilometers."),
    ("How do I enable two-factor authentication?", "How do I disable two-factor authentication?"),
    ("Who wrote Pride and Prejudice?", "Who wrote Sense and Sensibility?"),
    ("What is the population of Canada?", "What is the population of Australia?"),
    ("How do I install Node.js on Windows?", "How do I install Node.js on macOS?"),
    ("Write a haiku about the ocean.", "Write a haiku about the mountains."),
    ("What is 17 times 23?", "What is 17 plus 23?"),
    ("Is it safe to eat raw chicken?", "Is it safe to eat raw salmon?"),
    ("How do I sort a list in ascending order in Python?", "How do I sort a list in descending order in Python?"),
    ("What was the weather like in Paris yesterday?", "What will the weather be like in Paris tomorrow?"),
    ("Translate 'good morning' into Spanish.", "Translate 'good morning' into French."),
    ("What is the boiling point of water?", "What is the freezing point of water?"),
    ("How do I merge two branches in git?", "How do I delete a branch in git?"),
    ("Explain the difference between TCP and UDP.", "Explain the difference between HTTP and HTTPS."),
    ("What is the tallest mountain in Europe?", "What is the tallest mountain in Africa?"),
    ("Give me a recipe for chocolate cake.", "Give me a recipe for carrot cake."),
    ("What year did World War I start?", "What year did World War II start?"),
    ("How do I center a div horizontally with CSS?", "How do I center a div vertically with CSS?"),
    ("What does HTTP status 404 mean?", "What does HTTP status 500 mean?"),
    ("Recommend a good book about habits.", "Recommend a good movie about habits."),
    ("How many legs does a spider have?", "How many legs does an insect have?"),
]
