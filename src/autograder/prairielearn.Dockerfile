# PrairieLearn's grading image for gradverify, built from an unpacked autograder bundle:
#   gradverify autograder-bundle --rubric rubric.json --variants 8 -o bundle.zip
#   unzip bundle.zip -d bundle && docker build -t course/gradverify -f bundle/prairielearn.Dockerfile bundle
# It holds the torch-free grader, the kit (the bundle's --language) and its toolchain, and
# nothing of LibTorch. A question's tests/ holds its rubric.json and references.json
# (docs/grading.md); its info.json names this image and /opt/gradverify/grade_prairielearn.
# The bundle's .dockerignore keeps its rubric.json, references.json and cases/ out of the image.
FROM debian:bookworm-slim
COPY . /opt/gradverify
RUN /opt/gradverify/setup.sh && rm -rf /var/lib/apt/lists/*
