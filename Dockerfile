# ResNet Explorer, production image.
#   docker build -t resnet-explorer .                                   # CPU PyTorch
#   docker build -t resnet-explorer:cuda --build-arg TORCH_VARIANT=cuda .  # CUDA PyTorch
#   docker build --build-arg BAKE_WEIGHTS=1 -t resnet-explorer:weights .   # + resnet18/50 ImageNet weights
#   docker build --build-arg BAKE_WEIGHTS="resnet18 resnet101" .          # + these models' ImageNet weights
#   docker run -p 8501:8501 resnet-explorer                             # then open http://localhost:8501
FROM python:3.11-slim

# cpu: PyTorch's CPU wheels (small); cuda: the default PyPI wheels, which bundle CUDA.
ARG TORCH_VARIANT=cpu
# 1: download the ImageNet weights of resnet18 and resnet50 into the image (needs internet at build);
# a list of torchvision models ("resnet18 resnet101"): their DEFAULT weights. The app's offline
# notice names the list its page needed.
ARG BAKE_WEIGHTS=0

# OMP_WAIT_POLICY: idle OpenMP threads sleep instead of spinning, so a training run keeps its
# speed while other sessions compute (benchmarks/bench_training_busy.py); the app sets it
# itself too, with OMP_NUM_THREADS from the pod's CPU quota (explorer/runtime/threads.py).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OMP_WAIT_POLICY=PASSIVE \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TORCH_HOME=/home/app/.cache/torch

RUN groupadd --gid 10001 app && useradd --create-home --uid 10001 --gid 10001 app
# The PNG of the paper's Figure 3 is drawn on the server with DejaVu (the slim image has no fonts).
# Every Chinese text is drawn by the reader's browser, so the image needs no CJK font.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app

# The heavy layer first, so code changes do not reinstall PyTorch.
RUN if [ "$TORCH_VARIANT" = "cuda" ]; then \
        pip install --no-cache-dir torch==2.14.1 torchvision==0.29.1; \
    else \
        pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.14.1 torchvision==0.29.1; \
    fi

COPY pyproject.toml README.md ./
COPY explorer ./explorer
COPY pages ./pages
COPY assets ./assets
COPY locale ./locale
COPY .streamlit ./.streamlit
# Editable, so explorer/ stays beside pages/ and assets/; no test extra in production. The code
# stays root's and read-only to the app user: the server cannot rewrite itself.
RUN pip install --no-cache-dir -e .

# A numeric non-root user: runtimes can verify it is not root.
USER 10001:10001
# The list is split into words on purpose: one model name per word.
RUN if [ "$BAKE_WEIGHTS" = "1" ]; then python -m explorer fetch-weights resnet18 resnet50; \
    elif [ "$BAKE_WEIGHTS" != "0" ]; then python -m explorer fetch-weights $BAKE_WEIGHTS; fi

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read() != b'ok')"]
CMD ["streamlit", "run", "explorer/app.py", "--server.headless", "true", "--server.port", "8501", "--server.address", "0.0.0.0"]
