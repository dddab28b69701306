"""How a video is judged: temporal and appearance measures of clips, paired statistics, the comparison
of a method's samples with its family's base, the base's own report, and the pictures."""
