"""Stage 5, evaluation: metrics, Faiss retrieval, full-catalogue rank counting, the
protocols' evaluators and the popularity baseline."""
from srgnn_paddle.evaluation.baselines import evaluate_fixed_ranking, evaluate_popularity, popularity_ranking, top_by_count
from srgnn_paddle.evaluation.evaluators import LeaveOneOutEvaluator, NextItemEvaluator, RecallEvaluator, make_evaluator
from srgnn_paddle.evaluation.metrics import (candidate_ranks, evaluate, hit_mrr_at_k, hit_rank_sums, hr_ndcg_sums,
                                             rank_sums, target_ranks)
from srgnn_paddle.evaluation.retrieval import build_index, evaluate_model, get_predict, l2_normalize, top_items

__all__ = [
    "evaluate_fixed_ranking", "evaluate_popularity", "popularity_ranking", "top_by_count",
    "LeaveOneOutEvaluator", "NextItemEvaluator", "RecallEvaluator", "make_evaluator",
    "candidate_ranks", "evaluate", "hit_mrr_at_k", "hit_rank_sums", "hr_ndcg_sums", "rank_sums", "target_ranks",
    "build_index", "evaluate_model", "get_predict", "l2_normalize", "top_items",
]
