// msgpackr treats a falsy module as "no native acceleration" and decodes in JavaScript.
module.exports = null;
